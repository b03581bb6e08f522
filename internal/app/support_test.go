package app_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/ent/ticketmessage"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
)

// supportOrder gives customer a PAID order of m, written directly.
func supportOrder(t *testing.T, s *apitest.Server, customer apitest.Session, m apitest.Merchant) int {
	t.Helper()
	client, ctx := s.Client()
	uid, _ := strconv.Atoi(customer.UserID)
	o, err := client.Order.Create().SetNumber(fmt.Sprintf("T%d%d", uid, time.Now().UnixNano()%1e9)).
		SetCheckoutID("co-" + customer.UserID).SetCustomerID(uid).SetMerchantID(m.IntID).
		SetStatus(order.StatusPAID).SetSubtotal(1000).SetTotal(1000).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// supportClock makes the ticket service go by a manual clock, so a test moves time past
// SLAs and windows; access tokens keep the wall clock and stay valid.
func supportClock(s *apitest.Server) *apitest.Clock {
	c := apitest.NewClock(time.Now())
	s.App.Support.Now = c.Now
	return c
}

const ticketFields = `id status subjectKind subject escalated firstResponseAt slaMet rating ratingComment closedAt
  order { id } merchant { id }
  messages { id authorRole body mine attachments { id purpose url } }`

type ticketView struct {
	ID, Status, SubjectKind, Subject string
	Escalated                        bool
	FirstResponseAt                  *string
	SLAMet                           *bool `json:"slaMet"`
	Rating                           *int
	RatingComment                    *string
	ClosedAt                         *string
	Order                            *struct{ ID string }
	Merchant                         *struct{ ID string }
	Messages                         []struct {
		ID, AuthorRole, Body string
		Mine                 bool
		Attachments          []struct {
			ID, Purpose string
			URL         *string
		}
	}
}

func openTicket(t *testing.T, s *apitest.Server, token string, input map[string]any) ticketView {
	t.Helper()
	r := s.MustQuery(token, `mutation($i: OpenTicketInput!) { openTicket(input: $i) { `+ticketFields+` } }`, map[string]any{"i": input})
	var out struct{ OpenTicket ticketView }
	r.Decode(t, &out)
	return out.OpenTicket
}

func readTicket(t *testing.T, s *apitest.Server, token, id string) *ticketView {
	t.Helper()
	r := s.MustQuery(token, `query($id: ID!) { ticket(id: $id) { `+ticketFields+` } }`, map[string]any{"id": id})
	var out struct{ Ticket *ticketView }
	r.Decode(t, &out)
	return out.Ticket
}

const replyMutation = `mutation($i: ReplyToTicketInput!) { replyToTicket(input: $i) { id authorRole } }`

func reply(s *apitest.Server, token, id, body string) *apitest.Response {
	return s.Query(token, replyMutation, map[string]any{"i": map[string]any{"ticketID": id, "body": body}})
}

func wantCode(t *testing.T, what string, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Fatalf("%s: want %s (field %q), got %s", what, code, field, r.Raw)
	}
}

// A customer's whole ticket about an order: opened with a photo, routed to the order's
// merchant, hidden from everyone else (ticket, node, lists, the attachment), answered by
// the merchant (first response recorded, SLA met, the customer mailed), replied to,
// closed, rated once; the merchant's report shows it.
func TestSupportTicketStoryOverGraphQL(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		clock := supportClock(s)
		shop := s.NewMerchant(t, "tea-shop", merchant.StatusACTIVE)
		other := s.NewMerchant(t, "other-shop", merchant.StatusACTIVE)
		staff := s.AddStaff(t, shop, "tea-staff@example.com")
		customer := s.Register("buyer@example.com", "Buyer")
		stranger := s.Register("stranger@example.com", "Stranger")
		admin := s.NewAdmin(t, "cs-admin@example.com")
		orderID := supportOrder(t, s, customer, shop)
		strangersOrder := supportOrder(t, s, stranger, shop)

		// The customer's photo, uploaded inline.
		up := multipartUpload(t, s, customer.AccessToken,
			`mutation($file: Upload!) { uploadFile(file: $file, purpose: TICKET_ATTACHMENT) { id state } }`,
			map[string]any{}, "broken.png", "image/png", testPNG(t, 40, 30))
		var upOut struct{ UploadFile struct{ ID, State string } }
		up.Decode(t, &upOut)
		if upOut.UploadFile.State != "READY" {
			t.Fatalf("upload: %s", up.Raw)
		}

		// Refusals first.
		open := `mutation($i: OpenTicketInput!) { openTicket(input: $i) { id } }`
		wantCode(t, "someone else's order", s.Query(customer.AccessToken, open, map[string]any{"i": map[string]any{
			"subjectKind": "ORDER", "orderID": strangersOrder, "subject": "x", "body": "y"}}), "NOT_FOUND", "orderID")
		wantCode(t, "ORDER without order", s.Query(customer.AccessToken, open, map[string]any{"i": map[string]any{
			"subjectKind": "ORDER", "subject": "x", "body": "y"}}), "BAD_USER_INPUT", "orderID")
		wantCode(t, "PLATFORM naming a merchant", s.Query(customer.AccessToken, open, map[string]any{"i": map[string]any{
			"subjectKind": "PLATFORM", "merchantID": shop.ID, "subject": "x", "body": "y"}}), "BAD_USER_INPUT", "subjectKind")
		wantCode(t, "empty subject", s.Query(customer.AccessToken, open, map[string]any{"i": map[string]any{
			"subjectKind": "PLATFORM", "subject": "  ", "body": "y"}}), "BAD_USER_INPUT", "subject")
		wantCode(t, "anonymous", s.Query("", open, map[string]any{"i": map[string]any{
			"subjectKind": "PLATFORM", "subject": "x", "body": "y"}}), "UNAUTHENTICATED", "")

		tk := openTicket(t, s, customer.AccessToken, map[string]any{"subjectKind": "ORDER", "orderID": orderID,
			"subject": "茶叶罐破损", "body": "收到的茶叶罐压坏了，见照片。", "attachmentIDs": []string{upOut.UploadFile.ID}})
		if tk.Status != "OPEN" || tk.Merchant == nil || tk.Merchant.ID != shop.ID || tk.Order == nil ||
			len(tk.Messages) != 1 || !tk.Messages[0].Mine || len(tk.Messages[0].Attachments) != 1 || tk.SLAMet != nil {
			t.Fatalf("opened: %+v", tk)
		}
		attachmentID := tk.Messages[0].Attachments[0].ID

		// The merchant's staff see it, with the photo; strangers and the other shop do not.
		seen := readTicket(t, s, staff.AccessToken, tk.ID)
		if seen == nil || len(seen.Messages[0].Attachments) != 1 || seen.Messages[0].Attachments[0].URL == nil || seen.Messages[0].Mine {
			t.Fatalf("staff view: %+v", seen)
		}
		if r := s.MustQuery(staff.AccessToken, `query($id: ID!) { upload(id: $id) { id } }`, map[string]any{"id": attachmentID}); !r.Contains(attachmentID) {
			t.Fatalf("staff cannot read the shared attachment: %s", r.Raw)
		}
		for _, who := range []apitest.Session{stranger, other.Owner} {
			if readTicket(t, s, who.AccessToken, tk.ID) != nil {
				t.Fatalf("%s sees the ticket", who.Email)
			}
			r := s.MustQuery(who.AccessToken, `query($id: ID!, $a: ID!) { node(id: $id) { id } myTickets(first: 10) { totalCount }
			  upload(id: $a) { id } }`, map[string]any{"id": tk.ID, "a": attachmentID})
			if r.Contains(tk.ID+`"`) || !r.Contains(`"totalCount":0`) || !r.Contains(`"upload":null`) {
				t.Fatalf("%s: %s", who.Email, r.Raw)
			}
			wantCode(t, "stranger replies", reply(s, who.AccessToken, tk.ID, "hi"), "NOT_FOUND", "ticketID")
			wantCode(t, "stranger closes", s.Query(who.AccessToken, `mutation($id: ID!) { closeTicket(id: $id) { id } }`,
				map[string]any{"id": tk.ID}), "NOT_FOUND", "id")
		}
		r := s.MustQuery(other.Owner.AccessToken, `{ merchantTickets(first: 10) { totalCount } }`, nil)
		if !r.Contains(`"totalCount":0`) {
			t.Fatalf("other shop's queue: %s", r.Raw)
		}
		wantCode(t, "other shop names this one", s.Query(other.Owner.AccessToken,
			`query($m: ID) { merchantTickets(merchantID: $m, first: 10) { totalCount } }`, map[string]any{"m": shop.ID}), "NOT_FOUND", "merchantID")
		r = s.MustQuery(staff.AccessToken, `{ merchantTickets(first: 10, where: {status: [OPEN]}) { totalCount nodes { id } } }`, nil)
		if !r.Contains(`"totalCount":1`) || !r.Contains(tk.ID) {
			t.Fatalf("shop queue: %s", r.Raw)
		}

		// The merchant answers within the SLA; a second answer keeps the first response.
		clock.Advance(2 * time.Hour)
		if r := reply(s, staff.AccessToken, tk.ID, "非常抱歉，我们马上补发。"); r.Code() != "" {
			t.Fatalf("staff answer: %s", r.Raw)
		}
		first := readTicket(t, s, customer.AccessToken, tk.ID)
		clock.Advance(time.Hour)
		s.MustQuery(shop.Owner.AccessToken, replyMutation, map[string]any{"i": map[string]any{"ticketID": tk.ID, "body": "已安排补发。"}})
		tk2 := readTicket(t, s, customer.AccessToken, tk.ID)
		if tk2.Status != "ANSWERED" || tk2.FirstResponseAt == nil || *tk2.FirstResponseAt != *first.FirstResponseAt ||
			tk2.SLAMet == nil || !*tk2.SLAMet || len(tk2.Messages) != 3 || tk2.Messages[1].AuthorRole != "MERCHANT" {
			t.Fatalf("after answers: %+v", tk2)
		}
		answeredMails := 0
		for _, m := range s.MailTo(t, customer.Email) {
			if strings.Contains(m.Subject, "茶叶罐破损") {
				answeredMails++
			}
		}
		if answeredMails != 2 {
			t.Fatalf("answer mails: %d, want one per staff answer", answeredMails)
		}

		// The customer replies (back to OPEN) and closes; a closed ticket takes no message.
		s.MustQuery(customer.AccessToken, replyMutation, map[string]any{"i": map[string]any{"ticketID": tk.ID, "body": "谢谢！"}})
		if got := readTicket(t, s, staff.AccessToken, tk.ID); got.Status != "OPEN" {
			t.Fatalf("after the customer's reply: %s", got.Status)
		}
		s.MustQuery(customer.AccessToken, `mutation($id: ID!) { closeTicket(id: $id) { status } }`, map[string]any{"id": tk.ID})
		r = reply(s, staff.AccessToken, tk.ID, "还有问题吗？")
		wantCode(t, "reply to closed", r, "INVALID_STATE", "")
		if r.Errors[0].Extensions["currentState"] != "CLOSED" {
			t.Fatalf("currentState: %s", r.Raw)
		}
		wantCode(t, "close twice", s.Query(admin.AccessToken, `mutation($id: ID!) { closeTicket(id: $id) { id } }`,
			map[string]any{"id": tk.ID}), "INVALID_STATE", "")

		// Rated once, by the customer only.
		rate := `mutation($id: ID!, $r: Int!, $c: String) { rateTicket(id: $id, rating: $r, comment: $c) { rating ratingComment } }`
		wantCode(t, "staff rates", s.Query(staff.AccessToken, rate, map[string]any{"id": tk.ID, "r": 5}), "FORBIDDEN", "")
		wantCode(t, "rating 6", s.Query(customer.AccessToken, rate, map[string]any{"id": tk.ID, "r": 6}), "BAD_USER_INPUT", "rating")
		r = s.MustQuery(customer.AccessToken, rate, map[string]any{"id": tk.ID, "r": 5, "c": "处理很快"})
		if !r.Contains(`"rating":5`) {
			t.Fatalf("rate: %s", r.Raw)
		}
		wantCode(t, "rate twice", s.Query(customer.AccessToken, rate, map[string]any{"id": tk.ID, "r": 1}), "CONFLICT", "rating")
		wantCode(t, "reopen rated", s.Query(customer.AccessToken, `mutation($id: ID!) { reopenTicket(id: $id) { id } }`,
			map[string]any{"id": tk.ID}), "INVALID_STATE", "")

		// The merchant's report: one ticket, answered in 2 h, in time, rated 5.
		now := clock.Now().UTC()
		from := now.AddDate(0, 0, -1).Format(time.RFC3339)
		to := now.AddDate(0, 0, 1).Format(time.RFC3339)
		report := `query($f: Time!, $t: Time!, $m: ID) { supportReport(period: DAY, from: $f, to: $t, merchantID: $m) {
		  rows { start opened } total { opened answered firstResponseMedianSeconds firstResponseP90Seconds slaMet slaMissed slaCompliancePercent rated averageRating } } }`
		r = s.MustQuery(staff.AccessToken, report, map[string]any{"f": from, "t": to})
		var rep struct {
			SupportReport struct {
				Rows []struct {
					Start  string
					Opened int
				}
				Total struct {
					Opened, Answered, SlaMet, SlaMissed, Rated          int
					FirstResponseMedianSeconds, FirstResponseP90Seconds *int
					SlaCompliancePercent, AverageRating                 *float64
				}
			}
		}
		r.Decode(t, &rep)
		tot := rep.SupportReport.Total
		if len(rep.SupportReport.Rows) != 3 || tot.Opened != 1 || tot.Answered != 1 || tot.SlaMet != 1 || tot.SlaMissed != 0 ||
			tot.FirstResponseMedianSeconds == nil || *tot.FirstResponseMedianSeconds != 7200 ||
			tot.SlaCompliancePercent == nil || *tot.SlaCompliancePercent != 100 || tot.AverageRating == nil || *tot.AverageRating != 5 {
			t.Fatalf("report: %s", r.Raw)
		}
		r = s.MustQuery(other.Owner.AccessToken, report, map[string]any{"f": from, "t": to})
		if !r.Contains(`"total":{"opened":0`) {
			t.Fatalf("other shop's report: %s", r.Raw)
		}
		wantCode(t, "customer asks for a report", s.Query(customer.AccessToken, report, map[string]any{"f": from, "t": to}), "FORBIDDEN", "")
		wantCode(t, "report backwards", s.Query(admin.AccessToken, report, map[string]any{"f": to, "t": from}), "BAD_USER_INPUT", "to")
	})
}

// Tickets with no staff answer within SUPPORT_FIRST_RESPONSE_SLA are escalated by the job,
// once, and only those: the clock is moved, nothing sleeps.
func TestSupportEscalatesOverdueTicketsByTheClock(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		clock := supportClock(s)
		shop := s.NewMerchant(t, "slow-shop", merchant.StatusACTIVE)
		customer := s.Register("waiting@example.com", "Waiting")
		admin := s.NewAdmin(t, "escalation-admin@example.com")
		platform := openTicket(t, s, customer.AccessToken, map[string]any{"subjectKind": "PLATFORM", "subject": "账号问题", "body": "无法修改手机号"})
		answered := openTicket(t, s, customer.AccessToken, map[string]any{"subjectKind": "MERCHANT", "merchantID": shop.ID, "subject": "发票", "body": "能开发票吗？"})
		withdrawn := openTicket(t, s, customer.AccessToken, map[string]any{"subjectKind": "MERCHANT", "merchantID": shop.ID, "subject": "算了", "body": "不用了"})
		s.MustQuery(customer.AccessToken, `mutation($id: ID!) { closeTicket(id: $id) { id } }`, map[string]any{"id": withdrawn.ID})

		escalate := func() int {
			t.Helper()
			n, err := s.App.Support.EscalateOverdue(context.Background(), s.DB.Client)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		clock.Advance(s.Config.SupportFirstResponseSLA - time.Minute)
		if n := escalate(); n != 0 {
			t.Fatalf("escalated %d before the SLA", n)
		}
		if r := reply(s, shop.Owner.AccessToken, answered.ID, "可以，下单时备注抬头。"); r.Code() != "" {
			t.Fatal(string(r.Raw))
		}
		clock.Advance(2 * time.Minute)
		if n := escalate(); n != 1 {
			t.Fatalf("escalated %d, want the PLATFORM ticket only", n)
		}
		if n := escalate(); n != 0 {
			t.Fatalf("escalated %d again", n)
		}
		got := readTicket(t, s, customer.AccessToken, platform.ID)
		if !got.Escalated || got.SLAMet == nil || *got.SLAMet || got.Messages[len(got.Messages)-1].AuthorRole != "SYSTEM" {
			t.Fatalf("escalated ticket: %+v", got)
		}
		if got := readTicket(t, s, customer.AccessToken, answered.ID); got.Escalated || got.SLAMet == nil || !*got.SLAMet {
			t.Fatalf("answered ticket: %+v", got)
		}
		r := s.MustQuery(admin.AccessToken, `{ adminTickets(first: 10, where: {escalated: true}) { totalCount nodes { id } } }`, nil)
		if !r.Contains(`"totalCount":1`) || !r.Contains(platform.ID) {
			t.Fatalf("admins' queue: %s", r.Raw)
		}
		// An admin answers the escalated ticket late: the first response is recorded, the SLA stays missed.
		s.MustQuery(admin.AccessToken, replyMutation, map[string]any{"i": map[string]any{"ticketID": platform.ID, "body": "已为你处理。"}})
		if got := readTicket(t, s, customer.AccessToken, platform.ID); got.FirstResponseAt == nil || *got.SLAMet {
			t.Fatalf("late answer: %+v", got)
		}

		// Reopening: within SUPPORT_REOPEN_WINDOW of closing, not after.
		reopen := `mutation($id: ID!) { reopenTicket(id: $id) { status closedAt } }`
		s.MustQuery(customer.AccessToken, `mutation($id: ID!) { closeTicket(id: $id) { id } }`, map[string]any{"id": answered.ID})
		wantCode(t, "staff reopens", s.Query(shop.Owner.AccessToken, reopen, map[string]any{"id": answered.ID}), "FORBIDDEN", "")
		if r := s.MustQuery(customer.AccessToken, reopen, map[string]any{"id": answered.ID}); !r.Contains(`"status":"OPEN","closedAt":null`) {
			t.Fatalf("reopen: %s", r.Raw)
		}
		s.MustQuery(customer.AccessToken, `mutation($id: ID!) { closeTicket(id: $id) { id } }`, map[string]any{"id": answered.ID})
		clock.Advance(s.Config.SupportReopenWindow + time.Minute)
		wantCode(t, "reopen too late", s.Query(customer.AccessToken, reopen, map[string]any{"id": answered.ID}), "INVALID_STATE", "")

		// The admin's platform report counts the late one as missed, the withdrawn one not at all.
		now := clock.Now().UTC()
		r = s.MustQuery(admin.AccessToken, `query($f: Time!, $t: Time!) { supportReport(period: MONTH, from: $f, to: $t) {
		  total { opened answered slaMet slaMissed escalated slaCompliancePercent } } }`,
			map[string]any{"f": now.AddDate(0, 0, -30).Format(time.RFC3339), "t": now.Format(time.RFC3339)})
		if !r.Contains(`"total":{"opened":3,"answered":2,"slaMet":1,"slaMissed":1,"escalated":1,"slaCompliancePercent":50}`) {
			t.Fatalf("report: %s", r.Raw)
		}
	}, func(c *config.Config) { c.SupportFirstResponseSLA = 4 * time.Hour })
}

// Staff answering at once, the escalation job at the same moment, and a close racing a
// customer's message, over HTTP: the first response is recorded once (one of the answers),
// a ticket is escalated only if no answer was committed before the job's write, and a
// message either lands before the close or is refused.
func TestSupportFirstResponseRacesOverHTTP(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.New(t, d.URL(t))
			clock := supportClock(s)
			shop := s.NewMerchant(t, "race-shop", merchant.StatusACTIVE)
			staff := s.AddStaff(t, shop, "race-staff@example.com")
			admin := s.NewAdmin(t, "race-admin@example.com")
			customer := s.Register("race-buyer@example.com", "Buyer")
			client, ctx := s.Client()
			for round := range apitest.RaceRounds(d, 4) {
				tk := openTicket(t, s, customer.AccessToken, map[string]any{"subjectKind": "MERCHANT", "merchantID": shop.ID,
					"subject": fmt.Sprintf("round %d", round), "body": "在吗？"})
				clock.Advance(s.Config.SupportFirstResponseSLA + time.Minute)
				answer := func(token string) apitest.Racer {
					return s.Request(token, replyMutation, map[string]any{"i": map[string]any{"ticketID": tk.ID, "body": "来了"}})
				}
				job := func() (*apitest.Response, error) {
					_, err := s.App.Support.EscalateOverdue(context.Background(), s.DB.Client)
					return &apitest.Response{Raw: []byte("job")}, err
				}
				outs := apitest.Race(answer(shop.Owner.AccessToken), answer(staff.AccessToken), answer(admin.AccessToken), job)
				if n := apitest.Successes(t, "answers and the job", outs); n != 4 {
					t.Fatalf("round %d: %d of 4 succeeded", round, n)
				}
				id, _ := strconv.Atoi(tk.ID)
				got, err := client.Ticket.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				msgs, err := client.TicketMessage.Query().Where(ticketmessage.TicketID(id)).Order(ent.Asc(ticketmessage.FieldID)).All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var staffIDs []int
				system := 0
				for _, m := range msgs {
					switch m.AuthorRole {
					case ticketmessage.AuthorRoleSYSTEM:
						system = m.ID
					case ticketmessage.AuthorRoleMERCHANT, ticketmessage.AuthorRoleADMIN:
						staffIDs = append(staffIDs, m.ID)
					}
				}
				if len(staffIDs) != 3 || got.FirstResponseAt == nil || got.FirstResponseMessageID == nil || *got.FirstResponseMessageID != staffIDs[0] {
					t.Fatalf("round %d: first response %v of answers %v", round, got.FirstResponseMessageID, staffIDs)
				}
				if got.Escalated != (system != 0) || (got.Escalated && system > staffIDs[0]) {
					t.Fatalf("round %d: escalated %v, system message %d, first answer %d", round, got.Escalated, system, staffIDs[0])
				}

				// Close against the customer's message.
				before := len(msgs)
				outs = apitest.Race(
					s.Request(staff.AccessToken, `mutation($id: ID!) { closeTicket(id: $id) { id } }`, map[string]any{"id": tk.ID}),
					s.Request(customer.AccessToken, replyMutation, map[string]any{"i": map[string]any{"ticketID": tk.ID, "body": "还有一个问题"}}))
				if outs[0].Code() != "" {
					t.Fatalf("round %d: close: %s", round, outs[0])
				}
				after, err := client.TicketMessage.Query().Where(ticketmessage.TicketID(id)).Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				switch code := outs[1].Code(); {
				case code == "" && after == before+1:
				case code == "INVALID_STATE" && after == before:
				default:
					t.Fatalf("round %d: message racing the close: %s, messages %d → %d", round, outs[1], before, after)
				}
				if st, _ := client.Ticket.Get(ctx, id); st.Status != ticket.StatusCLOSED {
					t.Fatalf("round %d: status %s after the close", round, st.Status)
				}
			}
		})
	}
}
