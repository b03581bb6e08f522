package seed

import (
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
)

// This file is the demo's content: the category tree, the merchants and what each of them
// sells. Everything shown to shoppers is bilingual, Chinese first, so that keyword search
// finds the same product by 龙井 and by Longjing.

// bi is a text in Chinese and English.
type bi struct{ zh, en string }

// String joins both languages the way titles and values are stored: "中文 English".
func (b bi) String() string {
	if b.en == "" || b.en == b.zh {
		return b.zh
	}
	return b.zh + " " + b.en
}

func b(zh, en string) bi { return bi{zh, en} }

// choice is one value of an option. mult scales the product's base price (0 means 1);
// a non-zero price replaces it, as for the face value of a gift card.
type choice struct {
	bi
	mult  float64
	price int64
}

func v(zh, en string) choice                 { return choice{bi: bi{zh, en}} }
func vm(zh, en string, mult float64) choice  { return choice{bi: bi{zh, en}, mult: mult} }
func vfixed(zh, en string, fen int64) choice { return choice{bi: bi{zh, en}, price: fen} }

// option is one dimension variants differ in, such as 颜色 Colour.
type option struct {
	name   bi
	values []choice
}

func opt(zh, en string, values ...choice) option { return option{name: bi{zh, en}, values: values} }

// attr is a specification whose value is drawn at random from values.
type attr struct {
	name   bi
	values []bi
}

// at builds an attr from its names and value pairs (zh, en, zh, en, …).
func at(zh, en string, pairs ...string) attr {
	a := attr{name: bi{zh, en}}
	for i := 0; i+1 < len(pairs); i += 2 {
		a.values = append(a.values, bi{pairs[i], pairs[i+1]})
	}
	return a
}

// item is a product name with the specifications that belong to it alone (a book's author).
type item struct {
	bi
	attrs []biAttr
}

// biAttr is a specification in both languages: the product holds the Chinese, its en
// translation the English (internal/i18n).
type biAttr struct{ name, value bi }

// items builds plain items from pairs (zh, en, zh, en, …).
func items(pairs ...string) []item {
	var out []item
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, item{bi: bi{pairs[i], pairs[i+1]}})
	}
	return out
}

// with builds an item carrying fixed attributes given as (name, value) pairs.
func with(zh, en string, pairs ...bi) item {
	it := item{bi: bi{zh, en}}
	for i := 0; i+1 < len(pairs); i += 2 {
		it.attrs = append(it.attrs, biAttr{pairs[i], pairs[i+1]})
	}
	return it
}

var author = b("作者", "Author")

func book(zh, en, authorZh, authorEn string) item { return with(zh, en, author, b(authorZh, authorEn)) }

// family is a group of similar products of one merchant, in one leaf category, sharing
// options, specifications and a price range.
type family struct {
	category string // slug of a leaf category
	kind     product.Kind
	items    []item
	options  []option // at most two, the same for every variant of a product
	attrs    []attr
	price    [2]int64 // base price range, in fen
	blurbs   []bi     // one sentence about the product, for its description
	series   []bi     // title suffixes of this family, besides those of its kind
}

// person is a demo account.
type person struct {
	name   string
	email  string
	locale string
}

// merchantSpec describes one demo merchant.
type merchantSpec struct {
	name        bi
	slug        string
	skuPrefix   string
	legalName   string
	region      string // administrative division code, part of the licence number
	phone       string
	description bi
	status      merchant.Status
	owner       person
	staff       []person
	shippingFee int64 // fen
	freeFrom    int64 // fen, 0 = never free
	daysOld     int   // how long ago the merchant joined
	products    int   // demo products to generate
	families    []family
}

// categorySpec is a top-level category and its children.
type categorySpec struct {
	name     bi
	slug     string
	children []categorySpec
}

func cat(zh, en, slug string, children ...categorySpec) categorySpec {
	return categorySpec{name: bi{zh, en}, slug: slug, children: children}
}

var categoryTree = []categorySpec{
	cat("茶饮食品", "Food & Drinks", "food-drinks",
		cat("茶叶", "Tea", "tea"),
		cat("茶具", "Teaware", "teaware"),
		cat("家常菜", "Ready meals", "ready-meals"),
		cat("调味酱料", "Sauces & condiments", "condiments"),
		cat("休闲零食", "Snacks", "snacks"),
	),
	cat("数码电子", "Electronics", "electronics",
		cat("耳机音箱", "Headphones & speakers", "audio"),
		cat("充电配件", "Chargers & cables", "chargers"),
		cat("智能穿戴", "Wearables", "wearables"),
	),
	cat("玩具潮玩", "Toys & Collectibles", "toys-collectibles",
		cat("盲盒手办", "Blind boxes & figures", "figures"),
		cat("积木拼装", "Building blocks", "building-blocks"),
		cat("桌游棋牌", "Board & card games", "board-games"),
	),
	cat("图书文具", "Books & Stationery", "books-stationery",
		cat("文学小说", "Fiction", "fiction"),
		cat("历史人文", "History & culture", "history"),
		cat("少儿读物", "Children's books", "childrens-books"),
		cat("电子书", "E-books", "ebooks"),
		cat("文具手账", "Stationery", "stationery"),
	),
	cat("服饰家居", "Clothing & Home", "clothing-home",
		cat("T恤衬衫", "T-shirts & shirts", "t-shirts"),
		cat("外套", "Jackets & coats", "jackets"),
		cat("床上用品", "Bedding", "bedding"),
		cat("毛巾浴巾", "Towels", "towels"),
		cat("鲜花绿植", "Flowers & plants", "flowers"),
	),
	cat("生活服务", "Services & Cards", "services-cards",
		cat("兴趣课程", "Classes & lessons", "lessons"),
		cat("维修服务", "Repairs", "repairs"),
		cat("礼品卡", "Gift cards", "gift-cards"),
		cat("会员卡", "Memberships", "memberships"),
	),
}

// Options shared by several families.
var (
	colours = opt("颜色", "Colour",
		v("曜石黑", "Obsidian black"), v("云朵白", "Cloud white"), v("雾霾蓝", "Haze blue"),
		v("樱花粉", "Sakura pink"), v("松柏绿", "Pine green"))
	clothColours = opt("颜色", "Colour",
		v("本白", "Natural white"), v("墨黑", "Ink black"), v("燕麦", "Oatmeal"),
		v("雾蓝", "Misty blue"), v("豆沙红", "Dusty rose"))
	clothSizes = opt("尺码", "Size",
		v("S", ""), v("M", ""), v("L", ""), v("XL", ""), vm("XXL", "", 1.05))
	sessions = opt("课时", "Sessions",
		v("1节", "1 session"), vm("4节", "4 sessions", 3.6), vm("8节", "8 sessions", 6.8))
	edition = opt("版本", "Edition", v("平装", "Paperback"), vm("精装", "Hardcover", 1.6), vm("典藏版", "Collector's edition", 2.5))
	storage = at("储存方式", "Storage", "常温密封", "Sealed, room temperature", "阴凉干燥处", "Cool, dry place")
)

// Notes appended to descriptions, by kind of product.
var kindNotes = map[product.Kind]bi{
	product.KindPHYSICAL: b("下单后48小时内发货，支持七天无理由退换。", "Ships within 48 hours, with 7-day no-questions-asked returns."),
	product.KindVIRTUAL:  b("付款后兑换码即时发放至订单详情，一经发放不支持退款。", "Your code appears in the order right after payment and cannot be refunded once issued."),
	product.KindSERVICE:  b("下单后商家将在24小时内联系您预约时间。", "The shop will contact you within 24 hours to book a time."),
}

// Words that make new titles out of a family's items, for repeat listings and scale mode.
var (
	adjectives = map[product.Kind][]bi{
		product.KindPHYSICAL: {
			b("精选", "Selected"), b("经典", "Classic"), b("热销", "Best-selling"), b("新款", "New"),
			b("人气", "Popular"), b("匠心", "Artisan"), b("轻奢", "Premium"), b("优选", "Choice"),
			b("网红", "Trending"), b("国潮", "Guochao"), b("原创", "Original"), b("手作", "Handmade"),
			b("简约", "Minimalist"), b("复古", "Retro"), b("北欧风", "Nordic-style"), b("新中式", "Neo-Chinese"),
			b("高端", "High-end"), b("实惠", "Value"), b("爆款", "Hit"), b("定制", "Custom"),
		},
		product.KindVIRTUAL: {
			b("精选", "Selected"), b("超值", "Great-value"), b("限时", "Limited-time"), b("尊享", "Premium"),
			b("新人专享", "New-customer"), b("节日", "Festive"), b("热销", "Best-selling"), b("经典", "Classic"),
		},
		product.KindSERVICE: {
			b("专业", "Professional"), b("金牌", "Gold-medal"), b("资深", "Expert"), b("快速", "Express"),
			b("一对一", "One-to-one"), b("周末", "Weekend"), b("亲子", "Family"), b("入门", "Beginner's"),
			b("进阶", "Advanced"), b("安心", "Worry-free"),
		},
	}
	series = map[product.Kind][]bi{
		product.KindPHYSICAL: {
			b("礼盒装", "gift box"), b("限量版", "limited edition"), b("升级版", "upgraded"),
			b("2025新款", "2025 edition"), b("旗舰款", "flagship"), b("联名款", "collab edition"),
			b("典藏版", "collector's edition"), b("标准版", "standard"), b("店长推荐", "staff pick"),
		},
		product.KindVIRTUAL: {
			b("电子版", "digital edition"), b("年度版", "annual edition"), b("专享版", "exclusive edition"),
			b("节日特别版", "holiday edition"), b("企业采购版", "corporate edition"), b("标准版", "standard"),
		},
		product.KindSERVICE: {
			b("到店", "in-store"), b("上门", "at home"), b("线上", "online"), b("小班", "small group"),
			b("体验", "trial"), b("套餐", "package"), b("加急", "rush"),
		},
	}
)

var merchants = []merchantSpec{
	{
		name:        b("茶语轩", "Tea House"),
		slug:        "tea-house",
		skuPrefix:   "TEA",
		legalName:   "杭州茶语轩茶业有限公司",
		region:      "330100",
		phone:       "+86 571 8765 4321",
		description: b("茶语轩扎根西湖龙井村二十年，直采核心产区春茶，也卖茶具与茶艺课。", "Tea House has sourced spring tea straight from the Longjing villages around West Lake for twenty years, and also sells teaware and tea-ceremony classes."),
		status:      merchant.StatusACTIVE,
		owner:       person{"陈雅琴", "owner.tea-house@demo.xiadan.dev", "zh-CN"},
		staff:       []person{{"陈小雨", "staff.tea-house@demo.xiadan.dev", "zh-CN"}},
		shippingFee: 800, freeFrom: 9900, daysOld: 420, products: 52,
		families: []family{
			{
				category: "tea", kind: product.KindPHYSICAL, price: [2]int64{3800, 38800},
				items: items(
					"西湖龙井", "West Lake Longjing", "安溪铁观音", "Anxi Tieguanyin", "武夷大红袍", "Wuyi Da Hong Pao",
					"云南普洱熟茶", "Yunnan ripe Pu'er", "福鼎白牡丹", "Fuding White Peony", "正山小种红茶", "Lapsang Souchong black tea",
					"黄山毛峰", "Huangshan Maofeng", "茉莉花茶", "Jasmine tea", "洞庭碧螺春", "Dongting Biluochun",
					"凤凰单丛", "Phoenix Dancong oolong", "祁门红茶", "Keemun black tea", "六安瓜片", "Lu'an Guapian"),
				options: []option{opt("规格", "Size", v("50g", ""), vm("100g", "", 1.9), vm("250g", "", 4.5), vm("500g", "", 8.5))},
				attrs: []attr{
					at("等级", "Grade", "特级", "Special grade", "一级", "First grade", "明前", "Pre-Qingming"),
					at("采摘年份", "Harvest", "2024年", "2024", "2025年", "2025"),
					at("保质期", "Shelf life", "18个月", "18 months", "24个月", "24 months"),
					storage,
				},
				blurbs: []bi{
					b("条索紧结、汤色明亮，回甘持久。", "Tightly rolled leaves brew a bright liquor with a long, sweet finish."),
					b("小罐独立包装，开一罐喝一罐，香气不流失。", "Packed in small sealed tins so every one opens as fresh as the first."),
					b("茶农手工炒制，每批均有检测报告。", "Hand-fired by the growers, with a lab report for every batch."),
				},
				series: []bi{b("家庭装", "family pack"), b("便携装", "travel pack"), b("尝鲜装", "trial pack")},
			},
			{
				category: "teaware", kind: product.KindPHYSICAL, price: [2]int64{2900, 68800},
				items: []item{
					with("宜兴紫砂壶", "Yixing clay teapot", b("材质", "Material"), b("紫砂", "Zisha clay")),
					with("青瓷盖碗", "Celadon gaiwan", b("材质", "Material"), b("青瓷", "Celadon")),
					with("玻璃公道杯", "Glass fair cup", b("材质", "Material"), b("高硼硅玻璃", "Borosilicate glass")),
					with("建盏茶杯", "Jian ware tea cup", b("材质", "Material"), b("陶瓷", "Ceramic")),
					with("竹制茶盘", "Bamboo tea tray", b("材质", "Material"), b("楠竹", "Moso bamboo")),
					with("旅行茶具套装", "Travel tea set", b("材质", "Material"), b("陶瓷", "Ceramic")),
					with("手工粗陶茶杯", "Hand-thrown stoneware cup", b("材质", "Material"), b("粗陶", "Stoneware")),
				},
				options: []option{opt("颜色", "Colour", v("朱泥红", "Cinnabar red"), v("墨黑", "Ink black"), v("天青", "Sky blue"), v("米白", "Ivory"))},
				attrs:   []attr{at("工艺", "Craft", "全手工", "Handmade", "半手工", "Partly handmade")},
				blurbs: []bi{
					b("出水顺畅、断水利落，适合日常冲泡。", "Pours cleanly and stops without a drip, made for everyday brewing."),
					b("每件手工制作，釉色略有差异。", "Each piece is made by hand, so the glaze varies slightly."),
				},
			},
			{
				category: "gift-cards", kind: product.KindVIRTUAL, price: [2]int64{10000, 10000},
				items:   items("茶语轩电子礼品卡", "Tea House e-gift card", "茶语轩新春礼品卡", "Tea House Spring Festival gift card"),
				options: []option{opt("面值", "Value", vfixed("¥100", "", 10000), vfixed("¥200", "", 20000), vfixed("¥500", "", 50000), vfixed("¥1000", "", 100000))},
				attrs:   []attr{at("有效期", "Valid for", "3年", "3 years")},
				blurbs:  []bi{b("可在茶语轩购买任意商品，余额可分次使用。", "Spend it on anything at Tea House; the balance carries over.")},
			},
			{
				category: "lessons", kind: product.KindSERVICE, price: [2]int64{12800, 19800},
				items:   items("茶艺体验课", "Tea ceremony class", "春茶品鉴会", "Spring tea tasting session"),
				options: []option{sessions},
				attrs:   []attr{at("地点", "Location", "杭州西湖店", "West Lake shop, Hangzhou")},
				blurbs:  []bi{b("茶艺师带您认识六大茶类，学会冲泡一杯好茶。", "A tea master walks you through the six families of tea and how to brew each well.")},
			},
		},
	},
	{
		name:        b("潮玩社", "Toy Club"),
		slug:        "toy-club",
		skuPrefix:   "TOY",
		legalName:   "上海潮玩社文化创意有限公司",
		region:      "310000",
		phone:       "+86 21 6234 5678",
		description: b("潮玩社专注原创盲盒、手办与拼装积木，每月上新。", "Toy Club sells original blind boxes, figures and building sets, with new drops every month."),
		status:      merchant.StatusACTIVE,
		owner:       person{"周子豪", "owner.toy-club@demo.xiadan.dev", "zh-CN"},
		shippingFee: 1000, freeFrom: 19900, daysOld: 300, products: 48,
		families: []family{
			{
				category: "figures", kind: product.KindPHYSICAL, price: [2]int64{3900, 12900},
				items: items(
					"星际猫系列盲盒", "Space Cat blind box", "国风少女手办", "Guofeng girl figure", "机甲熊摆件", "Mecha Bear figure",
					"熊猫宝宝盲盒", "Baby Panda blind box", "故宫御猫摆件", "Palace Cat figure", "山海经神兽盲盒", "Mythical Beasts blind box",
					"敦煌飞天手办", "Dunhuang Apsara figure"),
				options: []option{opt("规格", "Pack", v("单盒", "Single box"), vm("3盒装", "Pack of 3", 2.9), vm("整盒6个", "Sealed case of 6", 5.6))},
				attrs: []attr{
					at("材质", "Material", "PVC", "", "树脂", "Resin", "搪胶", "Vinyl"),
					at("适用年龄", "Age", "15岁以上", "15+"),
				},
				blurbs: []bi{
					b("设计师原创造型，细节涂装精致。", "An original design with finely painted details."),
					b("随机发货，整盒可集齐全部常规款。", "Boxes are random; a sealed case holds every regular figure of the series."),
				},
			},
			{
				category: "building-blocks", kind: product.KindPHYSICAL, price: [2]int64{9900, 89900},
				items: items(
					"故宫角楼积木", "Forbidden City turret blocks", "城市消防站积木", "City fire station blocks",
					"蒸汽火车积木", "Steam train blocks", "太空站积木", "Space station blocks", "苏州园林积木", "Suzhou garden blocks"),
				options: []option{opt("版本", "Edition", v("标准版", "Standard"), vm("灯光版", "With lights", 1.3))},
				attrs: []attr{
					at("颗粒数", "Pieces", "1024颗", "1,024 pieces", "2188颗", "2,188 pieces", "3560颗", "3,560 pieces"),
					at("适用年龄", "Age", "8岁以上", "8+", "14岁以上", "14+"),
				},
				blurbs: []bi{b("兼容主流品牌颗粒，附高清图纸。", "Compatible with the major brick brands, with a full-colour manual.")},
			},
			{
				category: "board-games", kind: product.KindPHYSICAL, price: [2]int64{2900, 29900},
				items: items(
					"三国杀标准版", "Legends of the Three Kingdoms", "实木中国象棋", "Solid-wood Chinese chess set",
					"便携麻将套装", "Travel mahjong set", "狼人杀卡牌", "Werewolf card game", "云子围棋套装", "Yunzi Go set"),
				attrs: []attr{
					at("游戏人数", "Players", "2人", "2", "2-8人", "2-8", "4人", "4"),
					at("游戏时长", "Play time", "30分钟", "30 min", "60分钟", "60 min"),
				},
				blurbs: []bi{b("朋友聚会、家庭桌游的必备款。", "A staple for game nights with friends and family.")},
			},
			{
				category: "memberships", kind: product.KindVIRTUAL, price: [2]int64{1990, 1990},
				items:   items("潮玩社会员卡", "Toy Club membership", "潮玩社抽盒优先卡", "Toy Club early-access pass"),
				options: []option{opt("时长", "Term", v("月卡", "Monthly"), vm("季卡", "Quarterly", 2.7), vm("年卡", "Annual", 9))},
				attrs:   []attr{at("权益", "Benefits", "新品优先购、95折", "Early access and 5% off")},
				blurbs:  []bi{b("会员享新品优先抢购与全场折扣。", "Members get first pick of new drops and a discount on everything.")},
			},
		},
	},
	{
		name:        b("小米粒数码", "Gadgets"),
		slug:        "xiaomili-gadgets",
		skuPrefix:   "GDG",
		legalName:   "深圳小米粒数码科技有限公司",
		region:      "440300",
		phone:       "+86 755 2345 6789",
		description: b("小米粒数码来自华强北，卖耳机、充电与智能穿戴，也提供手机电脑维修。", "Gadgets comes from Huaqiangbei in Shenzhen: earbuds, chargers and wearables, plus phone and laptop repairs."),
		status:      merchant.StatusACTIVE,
		owner:       person{"林晓峰", "owner.xiaomili-gadgets@demo.xiadan.dev", "zh-CN"},
		staff:       []person{{"黄俊", "staff.xiaomili-gadgets@demo.xiadan.dev", "zh-CN"}},
		shippingFee: 0, freeFrom: 0, daysOld: 380, products: 54,
		families: []family{
			{
				category: "audio", kind: product.KindPHYSICAL, price: [2]int64{9900, 129900},
				items: items(
					"降噪蓝牙耳机", "Noise-cancelling Bluetooth earbuds", "头戴式耳机", "Over-ear headphones",
					"便携蓝牙音箱", "Portable Bluetooth speaker", "骨传导运动耳机", "Bone-conduction sports headphones",
					"桌面音箱", "Desktop speakers", "开放式耳机", "Open-ear earbuds"),
				options: []option{colours},
				attrs: []attr{
					at("续航", "Battery life", "8小时", "8 hours", "24小时", "24 hours", "36小时", "36 hours"),
					at("蓝牙版本", "Bluetooth", "5.3", "", "5.4", ""),
					at("保修", "Warranty", "1年", "1 year"),
				},
				blurbs: []bi{
					b("主动降噪，通勤地铁也能安静听歌。", "Active noise cancelling keeps the metro commute quiet."),
					b("低延迟模式，看视频打游戏不脱节。", "A low-latency mode keeps sound in sync with videos and games."),
				},
			},
			{
				category: "chargers", kind: product.KindPHYSICAL, price: [2]int64{1990, 29900},
				items: items(
					"65W氮化镓充电器", "65W GaN charger", "磁吸充电宝", "Magnetic power bank", "编织快充数据线", "Braided fast-charging cable",
					"三合一无线充电座", "3-in-1 wireless charging stand", "车载快充", "Car fast charger", "桌面充电站", "Desktop charging station"),
				options: []option{opt("颜色", "Colour", v("曜石黑", "Obsidian black"), v("云朵白", "Cloud white")), opt("规格", "Model", v("标准款", "Standard"), vm("Pro款", "Pro", 1.4))},
				attrs: []attr{
					at("接口", "Ports", "USB-C", "", "USB-C + USB-A", ""),
					at("认证", "Certification", "3C认证", "CCC certified"),
				},
				blurbs: []bi{b("多重安全保护，手机电脑一头搞定。", "Several layers of protection, and one charger for phone and laptop.")},
			},
			{
				category: "wearables", kind: product.KindPHYSICAL, price: [2]int64{14900, 99900},
				items: items(
					"智能手环", "Smart band", "儿童定位手表", "Kids' GPS watch", "运动手表", "Sports watch",
					"智能体脂秤", "Smart body-fat scale", "智能跳绳", "Smart skipping rope"),
				options: []option{colours},
				attrs: []attr{
					at("防水等级", "Water resistance", "5ATM", "", "IP68", ""),
					at("保修", "Warranty", "1年", "1 year"),
				},
				blurbs: []bi{b("心率血氧全天监测，数据同步手机App。", "Tracks heart rate and blood oxygen all day and syncs to the phone app.")},
			},
			{
				category: "repairs", kind: product.KindSERVICE, price: [2]int64{4900, 59900},
				items: items(
					"手机屏幕更换", "Phone screen replacement", "手机电池更换", "Phone battery replacement",
					"笔记本清灰换硅脂", "Laptop clean-out and thermal paste", "数据恢复", "Data recovery", "进水主板维修", "Water-damage board repair"),
				options: []option{opt("服务方式", "Service", v("到店", "In-store"), vm("上门", "On-site", 1.3), vm("寄修", "Mail-in", 1.1))},
				attrs:   []attr{at("保修", "Warranty", "90天", "90 days", "180天", "180 days")},
				blurbs:  []bi{b("原厂品质配件，维修全程视频记录。", "Original-grade parts, and every repair is filmed from start to finish.")},
			},
		},
	},
	{
		name:        b("阿香家常菜", "Home Kitchen"),
		slug:        "axiang-home-kitchen",
		skuPrefix:   "AXK",
		legalName:   "成都阿香餐饮管理有限公司",
		region:      "510100",
		phone:       "+86 28 8555 6677",
		description: b("阿香家常菜把成都老店的招牌菜做成冷冻半成品，十分钟上桌。", "Home Kitchen freezes the signature dishes of its Chengdu restaurant so they reach your table in ten minutes."),
		status:      merchant.StatusACTIVE,
		owner:       person{"王秀香", "owner.axiang-home-kitchen@demo.xiadan.dev", "zh-CN"},
		shippingFee: 1200, freeFrom: 12900, daysOld: 260, products: 50,
		families: []family{
			{
				category: "ready-meals", kind: product.KindPHYSICAL, price: [2]int64{1990, 6990},
				items: items(
					"红烧肉", "Braised pork belly", "宫保鸡丁", "Kung Pao chicken", "麻婆豆腐", "Mapo tofu",
					"鱼香肉丝", "Yu-Xiang shredded pork", "回锅肉", "Twice-cooked pork", "酸菜鱼", "Pickled-cabbage fish",
					"梅菜扣肉", "Steamed pork with preserved greens", "手工猪肉白菜水饺", "Hand-made pork and cabbage dumplings"),
				options: []option{
					opt("份量", "Portion", v("单人份", "Single"), vm("双人份", "For two", 1.8), vm("家庭装", "Family", 3.2)),
					opt("辣度", "Spice", v("不辣", "Mild"), v("微辣", "Medium"), v("特辣", "Hot")),
				},
				attrs: []attr{
					at("储存方式", "Storage", "-18℃冷冻", "Frozen at -18°C"),
					at("保质期", "Shelf life", "6个月", "6 months"),
				},
				blurbs: []bi{
					b("隔水加热或微波五分钟即可。", "Heat in a bain-marie or microwave for five minutes."),
					b("老店同款配方，冷链全程配送。", "The restaurant's own recipe, shipped in a cold chain all the way."),
				},
				series: []bi{b("家庭装", "family pack"), b("便携装", "travel pack"), b("尝鲜装", "trial pack")},
			},
			{
				category: "condiments", kind: product.KindPHYSICAL, price: [2]int64{1290, 4990},
				items: items(
					"阿香秘制辣椒酱", "A-Xiang secret chilli sauce", "郫县豆瓣酱", "Pixian broad-bean paste",
					"手工川味腊肠", "Home-made Sichuan sausage", "牛油火锅底料", "Beef-tallow hot-pot base", "藤椒油", "Green Sichuan pepper oil"),
				options: []option{opt("规格", "Size", v("200g", ""), vm("500g", "", 2.2))},
				attrs:   []attr{storage, at("保质期", "Shelf life", "12个月", "12 months")},
				blurbs:  []bi{b("拌饭拌面、炒菜火锅都好用。", "Good on rice and noodles, in stir-fries and in hot pot.")},
				series:  []bi{b("家庭装", "family pack"), b("便携装", "travel pack"), b("尝鲜装", "trial pack")},
			},
			{
				category: "snacks", kind: product.KindPHYSICAL, price: [2]int64{990, 5990},
				items: items(
					"麻辣牛肉干", "Spicy beef jerky", "手工麻花", "Hand-twisted dough twists",
					"灯影牛肉丝", "Dengying beef crisps", "怪味胡豆", "Strange-flavour broad beans"),
				options: []option{
					opt("口味", "Flavour", v("原味", "Original"), v("麻辣", "Spicy"), v("五香", "Five-spice")),
					opt("净含量", "Net weight", v("200g", ""), vm("500g", "", 2.3)),
				},
				attrs:  []attr{storage, at("保质期", "Shelf life", "9个月", "9 months")},
				blurbs: []bi{b("追剧下酒的四川味道。", "A taste of Sichuan for binge-watching and beer.")},
				series: []bi{b("家庭装", "family pack"), b("便携装", "travel pack"), b("尝鲜装", "trial pack")},
			},
			{
				category: "lessons", kind: product.KindSERVICE, price: [2]int64{15800, 26800},
				items:   items("川菜家常菜烹饪课", "Sichuan home-cooking class", "包饺子亲子课", "Dumpling-making family class"),
				options: []option{sessions},
				attrs:   []attr{at("地点", "Location", "成都宽窄巷子店", "Kuanzhai Alley shop, Chengdu")},
				blurbs:  []bi{b("阿香亲自授课，学完带走三道拿手菜。", "A-Xiang teaches in person; you go home with three dishes you can cook.")},
			},
		},
	},
	{
		name:        b("书香阁", "Bookshop"),
		slug:        "shuxiangge-books",
		skuPrefix:   "BKS",
		legalName:   "苏州书香阁文化传播有限公司",
		region:      "320500",
		phone:       "+86 512 6788 1234",
		description: b("书香阁是平江路上的独立书店，选书严谨，也卖文创与电子书。", "Bookshop is an independent bookstore on Pingjiang Road in Suzhou, with a careful selection of books, stationery and e-books."),
		status:      merchant.StatusACTIVE,
		owner:       person{"沈墨", "owner.shuxiangge-books@demo.xiadan.dev", "zh-CN"},
		shippingFee: 600, freeFrom: 6900, daysOld: 500, products: 56,
		families: []family{
			{
				category: "fiction", kind: product.KindPHYSICAL, price: [2]int64{2800, 6800},
				items: []item{
					book("活着", "To Live", "余华", "Yu Hua"), book("围城", "Fortress Besieged", "钱钟书", "Qian Zhongshu"),
					book("平凡的世界", "Ordinary World", "路遥", "Lu Yao"), book("三体", "The Three-Body Problem", "刘慈欣", "Liu Cixin"),
					book("红楼梦", "Dream of the Red Chamber", "曹雪芹", "Cao Xueqin"), book("边城", "Border Town", "沈从文", "Shen Congwen"),
					book("骆驼祥子", "Rickshaw Boy", "老舍", "Lao She"), book("繁花", "Blossoms", "金宇澄", "Jin Yucheng"),
				},
				options: []option{edition},
				attrs:   []attr{at("出版社", "Publisher", "人民文学出版社", "People's Literature Publishing House", "作家出版社", "The Writers Publishing House")},
				blurbs:  []bi{b("正版新书，塑封发货。", "A brand-new, shrink-wrapped copy.")},
			},
			{
				category: "history", kind: product.KindPHYSICAL, price: [2]int64{3900, 12800},
				items: []item{
					book("万历十五年", "1587, a Year of No Significance", "黄仁宇", "Ray Huang"), book("乡土中国", "From the Soil", "费孝通", "Fei Xiaotong"),
					book("长安的荔枝", "The Lychees of Chang'an", "马伯庸", "Ma Boyong"), book("中国通史", "A General History of China", "吕思勉", "Lü Simian"),
					book("人类简史", "Sapiens", "尤瓦尔·赫拉利", "Yuval Noah Harari"),
				},
				options: []option{edition},
				attrs:   []attr{at("出版社", "Publisher", "中华书局", "Zhonghua Book Company", "三联书店", "SDX Joint Publishing")},
				blurbs:  []bi{b("店长推荐，附赠藏书票。", "A bookseller's pick, with a free bookplate.")},
			},
			{
				category: "childrens-books", kind: product.KindPHYSICAL, price: [2]int64{1990, 9900},
				items: []item{
					book("小王子", "The Little Prince", "圣埃克苏佩里", "Antoine de Saint-Exupéry"),
					book("西游记绘本", "Journey to the West picture book", "吴承恩", "Wu Cheng'en"),
					book("十万个为什么", "One Hundred Thousand Whys", "米·伊林", "M. Ilin"),
					book("猜猜我有多爱你", "Guess How Much I Love You", "山姆·麦克布雷尼", "Sam McBratney"),
				},
				options: []option{edition},
				attrs:   []attr{at("适读年龄", "Reading age", "3-6岁", "3-6", "6-12岁", "6-12")},
				blurbs:  []bi{b("大字注音，亲子共读好选择。", "Large print with pinyin, made for reading together.")},
			},
			{
				category: "ebooks", kind: product.KindVIRTUAL, price: [2]int64{990, 3990},
				items: []item{
					book("三体（电子书）", "The Three-Body Problem (e-book)", "刘慈欣", "Liu Cixin"),
					book("活着（电子书）", "To Live (e-book)", "余华", "Yu Hua"),
					book("乡土中国（电子书）", "From the Soil (e-book)", "费孝通", "Fei Xiaotong"),
					book("唐诗三百首（电子书）", "Three Hundred Tang Poems (e-book)", "蘅塘退士", "Hengtang Tuishi"),
				},
				options: []option{opt("格式", "Format", v("EPUB", ""), v("PDF", ""))},
				attrs:   []attr{at("阅读设备", "Reads on", "手机、平板、电子书阅读器", "Phone, tablet and e-reader")},
				blurbs:  []bi{b("付款后即可下载，支持多设备同步。", "Download right after paying and read on all your devices.")},
			},
			{
				category: "stationery", kind: product.KindPHYSICAL, price: [2]int64{1990, 39900},
				items: items(
					"故宫文创手账本", "Palace Museum journal", "宣纸毛笔套装", "Rice paper and brush set",
					"钢笔礼盒", "Fountain pen gift set", "复古牛皮笔记本", "Retro kraft notebook", "古风书签", "Classical bookmarks"),
				options: []option{opt("颜色", "Colour", v("朱红", "Vermilion"), v("黛青", "Indigo"), v("月白", "Moon white"))},
				attrs:   []attr{at("规格", "Format", "A5", "", "B6", "")},
				blurbs:  []bi{b("书店自主设计，送礼自用都体面。", "Designed in-house, a thoughtful gift or a treat for yourself.")},
			},
			{
				category: "gift-cards", kind: product.KindVIRTUAL, price: [2]int64{5000, 5000},
				items:   items("书香阁购书卡", "Bookshop gift card"),
				options: []option{opt("面值", "Value", vfixed("¥50", "", 5000), vfixed("¥100", "", 10000), vfixed("¥200", "", 20000), vfixed("¥500", "", 50000))},
				attrs:   []attr{at("有效期", "Valid for", "2年", "2 years")},
				blurbs:  []bi{b("送给爱读书的人。", "For the reader in your life.")},
			},
		},
	},
	{
		name:        b("棉麻生活", "Linen Living"),
		slug:        "linen-living",
		skuPrefix:   "LNL",
		legalName:   "绍兴棉麻生活家居用品有限公司",
		region:      "330600",
		phone:       "+86 575 8899 0011",
		description: b("棉麻生活用天然面料做衣服和床品，简单、透气、耐洗。", "Linen Living makes clothes and bedding from natural fabrics: simple, breathable and easy to wash."),
		status:      merchant.StatusACTIVE,
		owner:       person{"顾言", "owner.linen-living@demo.xiadan.dev", "zh-CN"},
		shippingFee: 0, freeFrom: 0, daysOld: 200, products: 50,
		families: []family{
			{
				category: "t-shirts", kind: product.KindPHYSICAL, price: [2]int64{5900, 19900},
				items: items(
					"纯棉圆领T恤", "Cotton crew-neck T-shirt", "亚麻短袖衬衫", "Linen short-sleeve shirt",
					"刺绣国潮T恤", "Embroidered Guochao T-shirt", "宽松落肩T恤", "Oversized drop-shoulder T-shirt", "立领棉麻衬衫", "Band-collar cotton-linen shirt"),
				options: []option{clothColours, clothSizes},
				attrs: []attr{
					at("材质", "Material", "100%棉", "100% cotton", "55%亚麻 45%棉", "55% linen, 45% cotton"),
					at("版型", "Fit", "宽松", "Relaxed", "修身", "Slim"),
				},
				blurbs: []bi{b("预缩水处理，洗后不变形。", "Pre-shrunk, so it keeps its shape wash after wash.")},
				series: []bi{b("宽松款", "relaxed fit"), b("加厚款", "thick"), b("情侣款", "his-and-hers")},
			},
			{
				category: "jackets", kind: product.KindPHYSICAL, price: [2]int64{19900, 89900},
				items: items(
					"棉麻休闲外套", "Cotton-linen casual jacket", "新中式盘扣外套", "Neo-Chinese frog-button jacket",
					"轻薄羽绒服", "Light down jacket", "防风冲锋衣", "Windproof shell jacket"),
				options: []option{clothColours, clothSizes},
				attrs:   []attr{at("厚度", "Weight", "薄款", "Light", "常规", "Regular"), at("材质", "Material", "棉麻混纺", "Cotton-linen blend", "锦纶", "Nylon")},
				blurbs:  []bi{b("春秋通勤百搭，口袋实用。", "An easy layer for spring and autumn, with useful pockets.")},
				series:  []bi{b("宽松款", "relaxed fit"), b("加厚款", "thick"), b("情侣款", "his-and-hers")},
			},
			{
				category: "bedding", kind: product.KindPHYSICAL, price: [2]int64{29900, 129900},
				items: items(
					"水洗亚麻四件套", "Washed linen bedding set of four", "天丝夏凉被", "Tencel summer quilt",
					"桑蚕丝被", "Mulberry silk duvet", "荞麦枕", "Buckwheat pillow"),
				options: []option{opt("尺寸", "Bed size", v("1.5米床", "1.5 m bed"), vm("1.8米床", "1.8 m bed", 1.2)), opt("颜色", "Colour", v("燕麦", "Oatmeal"), v("灰蓝", "Grey blue"), v("浅杏", "Apricot"))},
				attrs:   []attr{at("材质", "Material", "100%亚麻", "100% linen", "莱赛尔", "Lyocell", "桑蚕丝", "Mulberry silk")},
				blurbs:  []bi{b("亲肤透气，越洗越软。", "Soft on the skin and breathable, and softer with every wash.")},
			},
			{
				category: "towels", kind: product.KindPHYSICAL, price: [2]int64{1990, 8900},
				items:   items("长绒棉毛巾", "Long-staple cotton towel", "纱布浴巾", "Cotton gauze bath towel", "竹纤维方巾", "Bamboo-fibre face cloth"),
				options: []option{opt("颜色", "Colour", v("本白", "Natural white"), v("浅灰", "Light grey"), v("薄荷绿", "Mint"))},
				attrs:   []attr{at("材质", "Material", "新疆长绒棉", "Xinjiang long-staple cotton", "竹纤维", "Bamboo fibre")},
				blurbs:  []bi{b("吸水快、不掉毛。", "Absorbs fast and does not shed.")},
			},
			{
				category: "flowers", kind: product.KindPHYSICAL, price: [2]int64{3900, 15900},
				items:   items("干花花束", "Dried flower bouquet", "永生花礼盒", "Preserved flower gift box", "尤加利干枝", "Dried eucalyptus stems"),
				options: []option{opt("规格", "Size", v("小束", "Small"), vm("大束", "Large", 1.7))},
				attrs:   []attr{at("保存时间", "Lasts", "1-2年", "1-2 years")},
				blurbs:  []bi{b("无需浇水，一束装点整个房间。", "No watering needed, and one bunch brightens a whole room.")},
			},
		},
	},
	{
		name:        b("花间集", "Flower Studio"),
		slug:        "flower-studio",
		skuPrefix:   "FLW",
		legalName:   "昆明花间集花卉有限公司",
		region:      "530100",
		phone:       "+86 871 6543 2100",
		description: b("花间集从斗南花市直发云南鲜花，正在等待平台审核。", "Flower Studio ships fresh Yunnan flowers straight from the Dounan market, and is waiting for review."),
		status:      merchant.StatusPENDING_REVIEW,
		owner:       person{"杨花", "owner.flower-studio@demo.xiadan.dev", "zh-CN"},
		daysOld:     2, products: 4,
		families: []family{
			{
				category: "flowers", kind: product.KindPHYSICAL, price: [2]int64{5900, 19900},
				items:   items("云南鲜切玫瑰", "Yunnan cut roses", "向日葵花束", "Sunflower bouquet", "多肉组合盆栽", "Succulent arrangement", "绣球花束", "Hydrangea bouquet"),
				options: []option{opt("规格", "Size", v("11枝", "11 stems"), vm("19枝", "19 stems", 1.6), vm("33枝", "33 stems", 2.6))},
				attrs:   []attr{at("产地", "Origin", "云南昆明", "Kunming, Yunnan")},
				blurbs:  []bi{b("产地直发，48小时到家。", "Shipped from the growers, at your door within 48 hours.")},
			},
		},
	},
}

// customers are the demo shoppers.
var customers = []person{
	{"王小明", "xiaoming@demo.xiadan.dev", "zh-CN"},
	{"李娜", "lina@demo.xiadan.dev", "zh-CN"},
	{"张伟", "zhangwei@demo.xiadan.dev", "zh-CN"},
	{"Emma Chen", "emma@demo.xiadan.dev", "en"},
	{"刘洋", "liuyang@demo.xiadan.dev", "zh-CN"},
}

// AdminEmail is the demo admin's sign-in.
const AdminEmail = "admin@demo.xiadan.dev"
