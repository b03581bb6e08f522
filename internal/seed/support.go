package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/helparticle"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/helpcentre"
	"github.com/xiadan/xiadan/internal/support"
	"github.com/xiadan/xiadan/internal/viewer"
)

// helpDemo is the demo's help centre: categories with articles in Chinese and English.
var helpDemo = []struct {
	slug, zh, en string
	articles     []helpcentre.ArticleInput
}{
	{"orders", "订单与支付", "Orders and payment", []helpcentre.ArticleInput{
		{Slug: "pay", Locale: helparticle.LocaleZhCN, Title: "支持哪些支付方式？",
			Body: "我们支持**微信支付**、**支付宝**和 QQ 钱包。下单后 30 分钟内未支付，订单会自动取消并释放库存。"},
		{Slug: "pay", Locale: helparticle.LocaleEn, Title: "Which payment methods are accepted?",
			Body: "We accept **WeChat Pay**, **Alipay** and QQ Wallet. Orders not paid within 30 minutes are cancelled and their stock released."},
	}},
	{"after-sales", "售后服务", "After-sales", []helpcentre.ArticleInput{
		{Slug: "refund", Locale: helparticle.LocaleZhCN, Title: "如何申请退款",
			Body: "在「我的订单」中打开订单，点击「申请售后」，选择仅退款或退货退款，填写原因并上传照片。商家 48 小时内处理。"},
		{Slug: "refund", Locale: helparticle.LocaleEn, Title: "How to request a refund",
			Body: "Open the order under *My orders*, choose **After-sales**, pick refund only or return and refund, give a reason and add photos. The merchant answers within 48 hours."},
		{Slug: "contact-support", Locale: helparticle.LocaleZhCN, Title: "联系客服与工单",
			Body: "可以就订单、店铺或平台问题提交工单。商家或平台客服会在 24 小时内首次回复，超时会自动升级至平台客服。"},
		{Slug: "contact-support", Locale: helparticle.LocaleEn, Title: "Contacting customer service",
			Body: "Open a ticket about an order, a shop or the platform. Staff answer within 24 hours; tickets not answered in time go to the platform's customer service."},
	}},
	{"shipping", "物流配送", "Shipping", []helpcentre.ArticleInput{
		{Slug: "delivery-time", Locale: helparticle.LocaleZhCN, Title: "多久能收到货？",
			Body: "多数包裹在发货后 1–3 天送达，偏远地区 3–7 天。可在订单详情查看物流轨迹。"},
		{Slug: "delivery-time", Locale: helparticle.LocaleEn, Title: "How long does delivery take?",
			Body: "Most parcels arrive 1–3 days after shipping, 3–7 days to remote areas. Track them on the order page."},
		{Slug: "customs", Locale: helparticle.LocaleEn, Title: "Cross-border shipping (draft)",
			Body: "Coming soon.", Status: helparticle.StatusDRAFT},
	}},
}

// helpCentre writes the demo's help centre through internal/helpcentre, so it is indexed
// for search.
func (s *seeder) helpCentre(ctx context.Context, c *ent.Client) error {
	svc := &helpcentre.Service{}
	for i, cat := range helpDemo {
		pos := i + 1
		created, err := svc.CreateCategory(ctx, c, helpcentre.CategoryInput{Slug: cat.slug, NameZh: cat.zh, NameEn: cat.en, Position: &pos})
		if err != nil {
			return fmt.Errorf("help category %s: %w", cat.slug, err)
		}
		for j, a := range cat.articles {
			a.CategoryID, a.Position = created.ID, &j
			if a.Status == "" {
				a.Status = helparticle.StatusPUBLISHED
			}
			if _, err := svc.CreateArticle(ctx, c, a); err != nil {
				return fmt.Errorf("help article %s (%s): %w", a.Slug, a.Locale, err)
			}
		}
	}
	return nil
}

// tickets opens demo tickets on the demo orders through internal/support, dated in the
// past: one answered, closed and rated; one answered and waiting for the customer; one
// new; and a platform one escalated because nobody answered within the SLA.
func (s *seeder) tickets(ctx context.Context, client *ent.Client) error {
	orders, err := client.Order.Query().Where(order.StatusNEQ(order.StatusCANCELLED)).
		Order(ent.Asc(order.FieldID)).Limit(3).All(ctx)
	if err != nil || len(orders) == 0 {
		return err
	}
	now := time.Now().UTC()
	at := now
	svc := &support.Service{SLA: 24 * time.Hour, ReopenWindow: 7 * 24 * time.Hour, Now: func() time.Time { return at }}
	as := func(userID int) (context.Context, error) {
		u, err := client.User.Get(ctx, userID)
		if err != nil {
			return nil, err
		}
		v := &viewer.Viewer{UserID: u.ID, Roles: []viewer.Role{viewer.RoleCustomer}}
		if u.MerchantID != nil {
			v.Roles = append(v.Roles, viewer.RoleMerchant)
			v.MerchantID = *u.MerchantID
			v.MerchantRole = viewer.MerchantStaff
			if u.MerchantRole != nil && *u.MerchantRole == user.MerchantRoleOWNER {
				v.MerchantRole = viewer.MerchantOwner
			}
		}
		return viewer.NewContext(ctx, v), nil
	}
	step := func(when time.Time, userID int, fn func(context.Context, *ent.Client) error) error {
		at = when
		vctx, err := as(userID)
		if err != nil {
			return err
		}
		return inTx(vctx, client, fn)
	}
	ownerOf := func(merchantID int) (int, error) {
		m, err := client.Merchant.Get(ctx, merchantID)
		if err != nil {
			return 0, err
		}
		return m.OwnerID, nil
	}
	var t *ent.Ticket
	open := func(o *ent.Order, kind ticket.SubjectKind, subject, body string, when time.Time) error {
		in := support.OpenInput{SubjectKind: kind, Subject: subject, Body: body}
		switch kind {
		case ticket.SubjectKindORDER:
			in.OrderID = &o.ID
		case ticket.SubjectKindMERCHANT:
			in.MerchantID = &o.MerchantID
		}
		return step(when, o.CustomerID, func(ctx context.Context, c *ent.Client) (err error) {
			t, err = svc.Open(ctx, c, in)
			return err
		})
	}
	answer := func(o *ent.Order, body string, when time.Time) error {
		owner, err := ownerOf(o.MerchantID)
		if err != nil {
			return err
		}
		return step(when, owner, func(ctx context.Context, c *ent.Client) error {
			_, err := svc.Reply(ctx, c, support.ReplyInput{TicketID: t.ID, Body: body})
			return err
		})
	}

	// 1. About an order: answered in 3 hours, closed by the customer, rated 5.
	o := orders[0]
	if err := open(o, ticket.SubjectKindORDER, "包装有破损", "收到的外包装压坏了，里面的东西好像没事，能补发一个新包装吗？", now.AddDate(0, 0, -6)); err != nil {
		return err
	}
	if err := answer(o, "非常抱歉！已为您登记补发包装，预计两天内寄出。", now.AddDate(0, 0, -6).Add(3*time.Hour)); err != nil {
		return err
	}
	if err := step(now.AddDate(0, 0, -5), o.CustomerID, func(ctx context.Context, c *ent.Client) error {
		if _, err := svc.Close(ctx, c, t.ID); err != nil {
			return err
		}
		five := "处理很快，谢谢"
		_, err := svc.Rate(ctx, c, t.ID, 5, &five)
		return err
	}); err != nil {
		return err
	}
	// 2. About a shop: answered, waiting for the customer.
	o = orders[min(1, len(orders)-1)]
	if err := open(o, ticket.SubjectKindMERCHANT, "Invoice for my order", "Can you issue a VAT invoice for my last order?", now.AddDate(0, 0, -2)); err != nil {
		return err
	}
	if err := answer(o, "Yes — reply with your company name and tax number and we will send it within a day.", now.AddDate(0, 0, -2).Add(26*time.Hour)); err != nil {
		return err
	}
	// 3. About an order: new, not answered yet.
	o = orders[len(orders)-1]
	if err := open(o, ticket.SubjectKindORDER, "什么时候发货？", "下单两天了还没发货，请问什么时候能发？", now.Add(-2*time.Hour)); err != nil {
		return err
	}
	// 4. About the platform: nobody answered within the SLA, so the job escalated it.
	if err := open(orders[0], ticket.SubjectKindPLATFORM, "无法修改绑定手机号", "换了手机号，收不到验证码，怎么修改？", now.Add(-30*time.Hour)); err != nil {
		return err
	}
	at = now
	_, err = svc.EscalateOverdue(ctx, client)
	return err
}
