# Buyers' requests phrased with the verb "sell" (issue 3: people asking for an appointment or for
# forged papers are hard negatives), and sellers' ads that open with a question (they stay offers).
# Added on 2026-12-06 with the negative.buyer groups, offer.second_person and rules.buyer_question.
A, D, N = "appointment_resale", "forged_documents", "negative"
LINES = [
    # French
    ("fr", N, "Salut, qui vend des rdv pour la préfecture de Nanterre ? Je suis pressé", "buyer asks who sells"),
    ("fr", N, "Quelqu'un vendrait un créneau biométrie à Cergy ? je peux payer 90 €", "buyer, price offered"),
    ("fr", N, "je cherche quelqu'un qui vend des rendez-vous naturalisation, écrivez-moi en mp", "buyer with contact"),
    ("fr", N, "Où peut-on acheter un rendez-vous ANTS pour refaire sa carte d'identité ?", "buyer asks where"),
    ("fr", N, "J'aimerais acheter un rdv consulat pour mon visa étudiant, quelqu'un a un bon plan ?", "buyer wants to buy"),
    ("fr", N, "Qui vend des faux permis ? c'est pour un ami, dites-moi en privé", "buyer of forged licence"),
    ("fr", N, "Je suis prête à payer 150 € pour un rendez-vous titre de séjour à Évry, aidez-moi", "buyer ready to pay"),
    ("fr", A, "Vous cherchez un rendez-vous en préfecture ? Je vends des créneaux toutes préfectures, 06 39 98 12 40", "seller opens with a question"),
    ("fr", A, "Tu veux un rdv titre de séjour cette semaine ? Contacte-moi, 80 € seulement", "seller, second person"),
    ("fr", A, "Marre d'attendre ? Je te trouve un créneau à la sous-préfecture, paiement après", "seller, second person"),
    ("fr", D, "Vous voulez un vrai faux passeport ? On fabrique, livraison partout, prix en mp", "forger opens with a question"),
    # English
    ("en", N, "Hi all, who is selling VFS slots for France in Lagos? I need one this month", "buyer asks who sells"),
    ("en", N, "Does anybody sell TLS appointments for Belgium? I'm ready to pay, please help", "buyer ready to pay"),
    ("en", N, "I want to buy a Schengen visa appointment at BLS, where can I get one?", "buyer wants to buy"),
    ("en", N, "Looking for someone who can sell me an embassy appointment, will pay well", "buyer looking for a seller"),
    ("en", N, "Where do you buy a fake ID these days? asking seriously", "buyer of forged ID"),
    ("en", A, "Need a VFS slot for Italy? We book it for you within a week, WhatsApp +33 6 39 98 22 10", "seller opens with a question"),
    ("en", A, "Are you looking for an early embassy appointment? Slots available, DM for price", "seller, second person"),
    ("en", D, "Do you need a passport fast? We sell registered passports and ID cards, worldwide shipping", "forger opens with a question"),
    # Spanish
    ("es", N, "¿Alguien vende citas para la toma de huellas en Málaga? Las necesito ya", "buyer asks who sells"),
    ("es", N, "¿Quién vende citas de extranjería en Barcelona? Pago lo que sea", "buyer asks who sells"),
    ("es", N, "Quiero comprar una cita para el consulado, ¿dónde se consigue?", "buyer wants to buy"),
    ("es", N, "¿Dónde puedo comprar un pasaporte falso? Es urgente", "buyer of forged passport"),
    ("es", A, "¿Buscas cita para extranjería? Vendo citas en toda España, 40 euros, escríbeme", "seller opens with a question"),
    ("es", A, "¿No consigues cita para la TIE? Te la saco en dos días, pago al confirmar", "seller opens with a question"),
    ("es", D, "¿Necesitas un DNI nuevo? Hacemos DNI y pasaportes falsos de calidad, envío discreto", "forger opens with a question"),
    # Arabic, Darija, arabizi
    ("ar", N, "شكون كيبيع رونديفو ديال القنصلية؟ محتاج واحد ضروري", "Darija buyer asks who sells"),
    ("ar", N, "مين يبيع موعد لمركز التأشيرات في الجزائر؟ مستعد ادفع", "buyer asks who sells"),
    ("ar", N, "هل يوجد من يبيع مواعيد السفارة الإسبانية؟ أرجو المساعدة", "buyer asks if anyone sells"),
    ("ar", N, "أين يمكن شراء جواز سفر مزور؟ سؤال فقط", "buyer of forged passport"),
    ("ar", N, "chkoun kaybi3 rdv TLS f casa? bghit wa7ed had simana", "arabizi buyer asks who sells"),
    ("ar", A, "بغيتي موعد ديال الفيزا؟ نحجزو ليك موعد TLS فأسبوع، راسلني واتساب", "seller opens with a question"),
    ("ar", A, "هل تبحث عن موعد في السفارة؟ مواعيد متوفرة بثمن مناسب، تواصل معنا", "seller opens with a question"),
    ("ar", A, "bghiti rdv dyal lvisa? kayn rdv TLS, sift lia f lkhas", "arabizi seller opens with a question"),
    # Turkish
    ("tr", N, "Kim vize randevusu satıyor? Almanya için acil lazım", "buyer asks who sells"),
    ("tr", N, "İtalya vize randevusu satan biri var mı? Parasını veririm", "buyer asks if anyone sells"),
    ("tr", N, "Sahte pasaport nereden alınır? Merak ediyorum", "buyer of forged passport"),
    ("tr", A, "Vize randevusu mu arıyorsunuz? Randevu satıyoruz, fiyat için mesaj atın", "seller opens with a question"),
    ("tr", A, "Randevu bulamıyor musunuz? Hızlı vize randevusu ayarlanır, iletişim için yazın", "seller opens with a question"),
    # Persian
    ("fa", N, "کسی وقت سفارت ایتالیا می‌فروشه؟ خیلی فوری لازم دارم", "buyer asks who sells"),
    ("fa", N, "از کجا میشه نوبت سفارت فرانسه خرید؟ حاضرم پول بدم", "buyer asks where to buy"),
    ("fa", N, "کسی پاسپورت جعلی می‌فروشه؟ فقط سوال دارم", "buyer of forged passport"),
    ("fa", A, "نوبت سفارت نیاز دارید؟ نوبت فوری می‌فروشیم، پیام دهید", "seller opens with a question"),
    ("fa", A, "دنبال نوبت سفارت آلمان هستید؟ رزرو نوبت با تضمین، تماس در واتساپ", "seller opens with a question"),
    # Russian
    ("ru", N, "Кто продаёт запись в визовый центр Италии? Очень нужно", "buyer asks who sells"),
    ("ru", N, "Хочу купить запись в консульство, у кого есть? Заплачу сколько скажете", "buyer wants to buy"),
    ("ru", N, "Где можно купить поддельные права? Просто спрашиваю", "buyer of forged licence"),
    ("ru", A, "Нужна запись в визовый центр? Запишем без очереди, пишите в личку", "seller opens with a question"),
    ("ru", A, "Не можете записаться в консульство? Продаю записи, цена 100 евро", "seller opens with a question"),
    ("ru", D, "Нужны права? Изготовим водительское удостоверение, доставка по городу", "forger opens with a question"),
    # forged-document spam that opens with "where to buy …?" and answers it: still an offer
    ("en", D, "Where to buy a real registered passport? We produce biometric passports, fast delivery, contact us on Telegram", "spam opens with 'where to buy'"),
    ("fr", D, "Où acheter une fausse carte d'identité ? Chez nous : fabrication rapide, envoi discret, paiement à la livraison", "spam opens with 'où acheter'"),
    ("es", D, "¿Dónde comprar un permiso de conducir? Lo fabricamos auténtico, envío rápido, escríbenos", "spam opens with 'dónde comprar'"),
    ("ru", D, "Где купить паспорт? Изготовим поддельный паспорт за 5 дней, доставка, пишите в телеграм", "spam opens with 'где купить'"),
    ("en", N, "Where can I get a visa appointment for Germany without paying an agent?", "buyer asks where"),
    ("ru", N, "Где можно купить запись в консульство Германии?", "buyer asks where"),
    # "who has …?" is a buyer's question, but sellers open with "anyone have trouble …?" too
    ("en", A, "Anyone have trouble booking a VFS appointment? We book slots for you, DM", "seller: 'anyone have trouble'"),
    ("en", A, "Want to buy a BLS slot? DM me for the price", "seller: 'want to buy?' to the reader"),
    ("es", A, "¿Alguien tiene problemas con la cita de huellas? Nosotros te la sacamos, escríbenos", "seller: 'alguien tiene problemas'"),
    ("ru", A, "У кого есть проблемы с записью в консульство? Запишем быстро, пишите в личку", "seller: 'у кого есть проблемы'"),
    ("ar", A, "من عنده مشكل في موعد القنصلية؟ نحجز لك موعد قريب، راسلني في الخاص", "seller: 'من عنده مشكل'"),
    ("en", N, "Does anyone have a TLS appointment for Rome? please help", "buyer: 'does anyone have'"),
    ("fr", N, "Quelqu'un aurait un créneau préfecture pour Créteil ? je rembourse les frais", "buyer: 'quelqu'un aurait'"),
    ("tr", N, "Kimde Hollanda vize randevusu var? Acil lazım", "buyer: 'kimde var'"),
]
