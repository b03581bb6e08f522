package aftersales

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesevent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/internal/credit"
	"github.com/xiadan/xiadan/internal/viewer"
)

// answers are the timeline steps that answer a request: the merchant's approval, partial
// proposal or rejection, or the deadline job's approval when the merchant let it lapse.
var answers = []aftersalesevent.Type{aftersalesevent.TypeAPPROVED, aftersalesevent.TypePROPOSED, aftersalesevent.TypeREJECTED}

// DisputeStats gives merchant credit (internal/credit) the after-sales figures of
// merchantIDs for the requests made since since:
//   - Requests: every request made;
//   - Disputes: those the customer escalated to platform arbitration;
//   - ArbitrationLosses: those the platform decided with a refund (against the merchant);
//   - Responses and ResponseTime: the requests answered and the total time from request to
//     the first answer. A request the deadline job approved counts as answered when the
//     job approved it, so letting requests lapse costs the whole response window.
func (s *Service) DisputeStats(ctx context.Context, db *ent.Client, merchantIDs []int, since time.Time) (map[int]credit.DisputeStats, error) {
	ctx = viewer.SystemContext(ctx)
	reqs, err := db.AfterSalesRequest.Query().
		Where(aftersalesrequest.MerchantIDIn(merchantIDs...), aftersalesrequest.CreatedAtGTE(since)).
		Select(aftersalesrequest.FieldID, aftersalesrequest.FieldMerchantID, aftersalesrequest.FieldCreatedAt,
			aftersalesrequest.FieldEscalatedAt).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading after-sales requests: %w", err)
	}
	out := make(map[int]credit.DisputeStats, len(merchantIDs))
	if len(reqs) == 0 {
		return out, nil
	}
	byID := make(map[int]*ent.AfterSalesRequest, len(reqs))
	ids := make([]int, 0, len(reqs))
	for _, r := range reqs {
		byID[r.ID] = r
		ids = append(ids, r.ID)
		st := out[r.MerchantID]
		st.Requests++
		if r.EscalatedAt != nil {
			st.Disputes++
		}
		out[r.MerchantID] = st
	}
	events, err := db.AfterSalesEvent.Query().
		Where(aftersalesevent.HasRequestWith(aftersalesrequest.IDIn(ids...)),
			aftersalesevent.TypeIn(append(answers, aftersalesevent.TypeARBITRATED)...)).
		Order(ent.Asc(aftersalesevent.FieldID)).
		WithRequest(func(q *ent.AfterSalesRequestQuery) { q.Select(aftersalesrequest.FieldID) }).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading after-sales steps: %w", err)
	}
	answered := make(map[int]bool, len(reqs))
	for _, e := range events {
		if e.Edges.Request == nil {
			continue
		}
		r := byID[e.Edges.Request.ID]
		if r == nil {
			continue
		}
		st := out[r.MerchantID]
		switch {
		case e.Type == aftersalesevent.TypeARBITRATED:
			if e.Amount != nil && *e.Amount > 0 {
				st.ArbitrationLosses++
			}
		case !answered[r.ID]:
			answered[r.ID] = true
			st.Responses++
			if d := e.CreatedAt.Sub(r.CreatedAt); d > 0 {
				st.ResponseTime += d
			}
		}
		out[r.MerchantID] = st
	}
	return out, nil
}

var _ credit.DisputeSource = (*Service)(nil)
