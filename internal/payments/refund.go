package payments

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/apperror"
)

// RefundOrder refunds amount of the order's successful payment (orders.Refunder).
func (s *Service) RefundOrder(ctx context.Context, db *ent.Client, o *ent.Order, amount int64, reason string) (*ent.Refund, error) {
	return nil, apperror.New(apperror.Internal, "refunds are not implemented yet")
}
