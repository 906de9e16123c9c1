//! R6.1a against real-looking reports: Vietnamese with and without diacritics, informal
//! writing, and foreign texts that must be refused.

use super::language::{LanguageDecision, assess_language};

/// Reports written the way citizens write them to a provincial portal or Zalo account.
const VIETNAMESE: &[&str] = &[
    // With diacritics.
    "Đoạn đường Phạm Thái Bường trước nhà số 45, phường 4 có ổ gà lớn, sâu khoảng 20cm, rộng gần 1 mét. Tối qua có 2 xe máy bị té ở đây. Đề nghị cơ quan chức năng sớm sửa chữa.",
    "Sau cơn mưa lớn chiều nay, đường Nguyễn Huệ đoạn từ chợ Vĩnh Long đến cầu Lầu bị ngập sâu khoảng 40cm, nước không thoát được, xe cộ chết máy hàng loạt.",
    "Bãi rác tự phát ở đầu hẻm 12, ấp Phước Yên, xã Phú Quới đã tồn tại hơn một tháng, bốc mùi hôi thối, ruồi muỗi nhiều, ảnh hưởng sức khỏe người dân xung quanh.",
    "Đèn đường trên tuyến Quốc lộ 53, đoạn qua xã Long Phước, bị tắt hết khoảng 500 mét từ tuần trước, ban đêm rất tối, dễ xảy ra tai nạn.",
    "Quán karaoke ở số 78 đường Trần Phú mở nhạc rất lớn đến 1-2 giờ sáng mỗi đêm, người dân xung quanh không ngủ được, đã nhắc nhở nhiều lần nhưng không thay đổi.",
    "Nhiều hộ kinh doanh trên đường 2 Tháng 9 lấn chiếm vỉa hè để bày bán hàng hóa và đậu xe, người đi bộ phải đi xuống lòng đường rất nguy hiểm, nhất là học sinh giờ tan trường.",
    "Ống nước sạch bị vỡ ở góc đường Lê Lợi – Hưng Đạo Vương từ 6 giờ sáng, nước chảy lênh láng ra đường gây lãng phí, nhiều nhà trong khu vực bị mất nước.",
    "Khu phố 3, phường Trường An bị cúp điện từ 8 giờ sáng đến giờ (15h) vẫn chưa có điện lại, không thấy thông báo lịch cắt điện trước. Đề nghị Điện lực kiểm tra.",
    "Cây xanh trước trường Tiểu học Lê Lợi bị gãy nhánh lớn sau cơn giông, đè lên dây điện, rất nguy hiểm cho học sinh và người qua lại.",
    "Thùng rác công cộng ở công viên Sông Tiền bị đầy tràn mấy ngày nay chưa ai thu gom, chó mèo bới rác vương vãi khắp lối đi.",
    "ĐƯỜNG VÀO ẤP 5 XÃ TÂN HẠNH LẦY LỘI SAU MƯA, XE KHÔNG ĐI ĐƯỢC, ĐỀ NGHỊ SỬA GẤP",
    "Xe Grab đậu trên vỉa hè đường Nguyễn Huệ cả ngày, người đi bộ phải né xuống đường.",
    // Without diacritics.
    "duong bi ngap nuoc sau mua lon, nuoc ngap toi dau goi, xe may chet may nhieu lam",
    "Den duong o hem 45 duong Nguyen Van Cu bi hu may ngay nay roi, toi om lam, buoi toi di ve rat nguy hiem",
    "ong nuoc bi vo tu sang nay, nuoc chay lenh lang ca con hem, nha toi va may nha ben canh khong co nuoc xai",
    "mat dien tu 8h sang toi gio chua co lai, troi nong qua, nha co nguoi gia va con nho",
    "Rac thai do bay ra ven song Co Chien gan ben pha, boc mui hoi thoi, de nghi xa cho nguoi don dep",
    "Nha may xay lua cua ong Tu xa khoi bui suot ngay, bui bam day nha, con nit ho suot dem",
    "CONG THOAT NUOC TRUOC CHO BI NGHET, NUOC THAI TRAN LEN DUONG HOI THUI",
    // Informal, with abbreviations and loanwords, with or without marks.
    "ai có trách nhiệm xem lại cái ổ gà trước chợ giùm cái, mấy bữa nay xe té hoài à, tối qua thêm 1 vụ nữa",
    "quan nhau dau hem 7 ko co giay phep ma hat karaoke toi 12h dem, dc nhac nho ma ko nghe, bua nay con danh nhau",
    "ống cống trước nhà bị nghẹt, nước thải tràn lên mặt đường, mùi hôi lắm, nhờ xã cho người xuống thông cống dùm",
    "cột điện nghiêng sắp ngã ở đầu ấp 3, dây điện võng xuống thấp, xe tải đi qua là vướng, nguy hiểm lắm mn ơi",
    "Cống bị nghẹt ở chợ",
    "sao lâu z mà chưa ai xuống sửa j hết trơn, bực mình ghê á",
    "em oi cho anh hoi, cai den giao thong o nga tu bi hu roi ha, sao khong ai sua vay",
    "Toi muon phan anh viec hang xom xay nha lan chiem hem chung, khong co giay phep xay dung",
    // whatlang guesses Javanese for this one; the syllables decide.
    "Nuoc song dang cao, bo ke sap lo, nguy co sat lo cao",
    "Em muốn report vụ shipper Shopee đậu xe sai quy định trước cổng chung cư, block A, rất mất trật tự",
    // Typed with combining marks (decomposed Unicode).
    "Đu\u{31b}o\u{31b}\u{300}ng bi\u{323} nga\u{302}\u{323}p nu\u{31b}o\u{31b}\u{301}c sau mu\u{31b}a lo\u{31b}\u{301}n",
];

/// Texts in other languages and scripts: none may pass as Vietnamese.
const FOREIGN: &[(&str, &str)] = &[
    ("English", "The road in front of my house has a big pothole, please fix it as soon as possible."),
    ("English", "There is a lot of garbage on the street near the market and it smells terrible."),
    ("English", "Pothole on Lê Văn Sỹ street near Trần Quốc Thảo, please fix it"),
    ("French", "La route devant chez moi est pleine de nids-de-poule, merci de la réparer rapidement."),
    ("Spanish", "La calle frente a mi casa está llena de baches, por favor arréglenla pronto."),
    ("Portuguese", "A rua em frente à minha casa está cheia de buracos, por favor consertem logo."),
    ("German", "Die Straße vor meinem Haus hat ein großes Schlagloch, bitte schnell reparieren."),
    ("Indonesian", "Jalan di depan rumah saya rusak parah dan banyak lubang besar, mohon segera diperbaiki."),
    ("Indonesian", "Sampah menumpuk di pinggir jalan dekat pasar dan baunya sangat busuk."),
    ("Malay", "Jalan di hadapan rumah saya rosak teruk, banyak lubang besar. Tolong baiki segera."),
    ("Tagalog", "Ang daan sa harap ng bahay namin ay sira na at maraming butas, pakiayos po agad."),
    ("Chinese", "我家门前的路有一个大坑，请尽快修理。"),
    ("Thai", "ถนนหน้าบ้านของฉันมีหลุมขนาดใหญ่ กรุณาซ่อมแซมโดยเร็ว"),
    ("Khmer", "ផ្លូវនៅមុខផ្ទះខ្ញុំមានរណ្តៅធំ សូមជួសជុលឱ្យបានឆាប់"),
    ("Korean", "우리 집 앞 도로에 큰 구멍이 있어요. 빨리 고쳐 주세요."),
    ("Russian", "Дорога перед моим домом вся в ямах, пожалуйста, отремонтируйте."),
    ("English, short words", "I do not go to the bank on the way home"),
    ("English, short words", "He is a man, not a boy, and he can do it"),
    ("Spanish, short words", "No me gusta la calle, hay mucho ruido en la noche"),
    ("French, short words", "Il y a un trou dans la rue devant mon café"),
    ("English with Vietnamese words", "the duong is flooded near cho market, please send someone"),
    ("Indonesian, short", "Ada banyak sampah di jalan ini dan bau"),
    ("Tagalog, short", "May baha sa daan namin ngayon"),
    ("gibberish", "asdkjh qwerty zxcvbnm lkjhgf poiuyt mnbvcx"),
    ("gibberish", "aaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbb"),
    ("gibberish", "xin chao xin chao jfkdls qpwoei rutyfh gjdkslq"),
];

// Proves R6.1a.
#[test]
fn vietnamese_reports_pass_with_or_without_diacritics_r6_1a() {
    for text in VIETNAMESE {
        let verdict = assess_language(text);
        assert_eq!(verdict.decision, LanguageDecision::Vietnamese, "{text}\n{verdict:?}");
    }
}

// Proves R6.1a.
#[test]
fn foreign_texts_are_refused_r6_1a() {
    for (language, text) in FOREIGN {
        let verdict = assess_language(text);
        assert_eq!(verdict.decision, LanguageDecision::Foreign, "{language}: {text}\n{verdict:?}");
    }
}

// Proves R6.1a.
#[test]
fn the_brief_s_examples_r6_1a() {
    let plain = assess_language("duong bi ngap nuoc sau mua lon");
    assert!(plain.is_vietnamese(), "{plain:?}");
    assert_eq!(plain.syllable_share(), 1.0);
    assert_eq!(plain.marked_words, 0);

    let mixed = assess_language("xe Grab đậu trên vỉa hè đường Nguyễn Huệ");
    assert!(mixed.is_vietnamese(), "{mixed:?}");
}

// Proves R6.1a.
#[test]
fn whatlang_is_consulted_only_for_longer_texts_r6_1a() {
    let short = assess_language("den duong bi hu");
    assert!(short.detected.is_none());
    let long = assess_language(VIETNAMESE[0]);
    let detected = long.detected.expect("whatlang gives a guess for a long text");
    assert_eq!(detected.code, "vie");
    assert!(long.marked_share() > 0.3);
}

// Proves R6.1a.
#[test]
fn indonesian_without_marks_is_refused_on_syllables_r6_1a() {
    // The hard case: Latin script, no marks, whatlang unsure. Syllables decide.
    let v = assess_language(FOREIGN[7].1);
    assert!(v.syllable_share() < 0.4, "{v:?}");
    assert!(!v.is_vietnamese());
}

/// Removes every Vietnamese mark, keeping case: "Đường" → "Duong".
fn strip_marks(text: &str) -> String {
    text.chars()
        .map(|c| {
            let lower = c.to_lowercase().next().unwrap_or(c);
            match super::vietnamese::letter(lower) {
                Some(l) if c.is_uppercase() => l.base.to_ascii_uppercase(),
                Some(l) => l.base,
                None => c,
            }
        })
        .collect()
}

// Proves R6.1a.
#[test]
fn every_sample_stays_vietnamese_without_its_marks_r6_1a() {
    for text in VIETNAMESE {
        let plain = strip_marks(&super::vietnamese::compose(text));
        assert!(plain.chars().all(|c| !c.is_alphabetic() || c.is_ascii_alphabetic()), "{plain}");
        let verdict = assess_language(&plain);
        assert!(verdict.is_vietnamese(), "{plain}\n{verdict:?}");
    }
}
