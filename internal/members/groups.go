package members

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/customergroup"
	"github.com/xiadan/xiadan/ent/customergroupmember"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// GroupInput is a merchant's customer group: a name and an optional rule. With
// MinPaidOrders and/or MinSpend set, the customers with at least that many paid orders
// and/or that net spend with the merchant (all time, cancelled and fully refunded orders
// left out) are members by rule, besides those added by hand.
type GroupInput struct {
	Name          string
	MinPaidOrders *int
	MinSpend      *string
}

// GroupMember is one way a customer is in a group.
type GroupMember struct {
	CustomerID int
	Source     customergroupmember.Source
	AddedAt    time.Time
}

// MaxGroupMembersPerCall bounds the customers one call adds or removes.
const MaxGroupMembersPerCall = 100

// staffMerchant is the viewer's merchant, for its staff; FORBIDDEN for anyone else.
func staffMerchant(ctx context.Context) (int, error) {
	v := viewer.FromContext(ctx)
	if !v.IsMerchantMember(v.MerchantID) {
		return 0, apperror.New(apperror.Forbidden, "only a merchant's staff manage its customer groups")
	}
	return v.MerchantID, nil
}

type groupFields struct {
	name          string
	minPaidOrders *int
	minSpend      *int64
}

func checkGroup(ctx context.Context, db *ent.Client, merchantID int, in GroupInput) (groupFields, error) {
	m, err := db.Merchant.Query().Where(merchant.ID(merchantID)).Select(merchant.FieldCurrency).Only(viewer.SystemContext(ctx))
	if err != nil {
		return groupFields{}, err
	}
	f := groupFields{minPaidOrders: in.MinPaidOrders}
	var errs []error
	if f.name, err = cleanName("name", in.Name, 40); err != nil {
		errs = append(errs, err)
	}
	if f.minPaidOrders != nil && (*f.minPaidOrders < 1 || *f.minPaidOrders > 1_000_000) {
		errs = append(errs, apperror.BadInput("minPaidOrders", "must be 1 to 1000000"))
	}
	if f.minSpend, err = amount("minSpend", in.MinSpend, m.Currency, false); err != nil {
		errs = append(errs, err)
	}
	return f, apperror.Join(errs...)
}

// Groups returns the viewer's merchant's customer groups (every merchant's for admins),
// by name.
func Groups(ctx context.Context, db *ent.Client) ([]*ent.CustomerGroup, error) {
	return db.CustomerGroup.Query().Order(customergroup.ByMerchantID(), customergroup.ByName(), customergroup.ByID()).All(ctx)
}

// group reads a group the viewer's merchant owns, or NOT_FOUND.
func group(ctx context.Context, db *ent.Client, id int) (*ent.CustomerGroup, error) {
	mid, err := staffMerchant(ctx)
	if err != nil {
		return nil, err
	}
	g, err := db.CustomerGroup.Query().Where(customergroup.ID(id), customergroup.MerchantID(mid)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("customer group not found")
	}
	return g, err
}

// CreateGroup adds a customer group to the viewer's merchant and applies its rule at once.
// A name the merchant already uses is CONFLICT (reason NAME_TAKEN).
func (s *Service) CreateGroup(ctx context.Context, db *ent.Client, in GroupInput) (*ent.CustomerGroup, error) {
	mid, err := staffMerchant(ctx)
	if err != nil {
		return nil, err
	}
	f, err := checkGroup(ctx, db, mid, in)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if taken, err := db.CustomerGroup.Query().Where(customergroup.MerchantID(mid), customergroup.Name(f.name)).Exist(sys); err != nil {
		return nil, err
	} else if taken {
		return nil, conflict("name", "NAME_TAKEN", "you already have a group called %s", f.name)
	}
	g, err := db.CustomerGroup.Create().SetMerchantID(mid).SetName(f.name).SetNillableMinPaidOrders(f.minPaidOrders).
		SetNillableMinSpend(f.minSpend).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, conflict("name", "NAME_TAKEN", "you already have a group called %s", f.name)
	}
	if err != nil {
		return nil, err
	}
	if err := s.applyRule(ctx, db, g, nil); err != nil {
		return nil, err
	}
	return db.CustomerGroup.Get(ctx, g.ID)
}

// UpdateGroup replaces a group's name and rule and applies the rule at once.
func (s *Service) UpdateGroup(ctx context.Context, db *ent.Client, id int, in GroupInput) (*ent.CustomerGroup, error) {
	g, err := group(ctx, db, id)
	if err != nil {
		return nil, err
	}
	f, err := checkGroup(ctx, db, g.MerchantID, in)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if taken, err := db.CustomerGroup.Query().Where(customergroup.MerchantID(g.MerchantID), customergroup.Name(f.name),
		customergroup.IDNEQ(id)).Exist(sys); err != nil {
		return nil, err
	} else if taken {
		return nil, conflict("name", "NAME_TAKEN", "you already have a group called %s", f.name)
	}
	u := g.Update().SetName(f.name)
	if f.minPaidOrders != nil {
		u.SetMinPaidOrders(*f.minPaidOrders)
	} else {
		u.ClearMinPaidOrders()
	}
	if f.minSpend != nil {
		u.SetMinSpend(*f.minSpend)
	} else {
		u.ClearMinSpend()
	}
	if g, err = u.Save(sys); err != nil {
		if ent.IsConstraintError(err) {
			return nil, conflict("name", "NAME_TAKEN", "you already have a group called %s", f.name)
		}
		return nil, err
	}
	if err := s.applyRule(ctx, db, g, nil); err != nil {
		return nil, err
	}
	return db.CustomerGroup.Get(ctx, g.ID)
}

// DeleteGroup removes a group and its members.
func (s *Service) DeleteGroup(ctx context.Context, db *ent.Client, id int) (int, error) {
	g, err := group(ctx, db, id)
	if err != nil {
		return 0, err
	}
	sys := viewer.SystemContext(ctx)
	if _, err := db.CustomerGroupMember.Delete().Where(customergroupmember.GroupID(g.ID)).Exec(sys); err != nil {
		return 0, err
	}
	return id, db.CustomerGroup.DeleteOneID(g.ID).Exec(sys)
}

// AddGroupMembers adds customers to a group by hand. Each must have ordered from the
// merchant; one who has not (or does not exist: the answer is the same) is BAD_USER_INPUT
// on customerIDs and nothing is added.
func (s *Service) AddGroupMembers(ctx context.Context, db *ent.Client, id int, customerIDs []int) (*ent.CustomerGroup, error) {
	g, err := group(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if len(customerIDs) == 0 || len(customerIDs) > MaxGroupMembersPerCall {
		return nil, apperror.BadInput("customerIDs", "give 1 to %d customers", MaxGroupMembersPerCall)
	}
	sys := viewer.SystemContext(ctx)
	known, err := db.Order.Query().Where(order.MerchantID(g.MerchantID), order.CustomerIDIn(customerIDs...)).
		Unique(true).Select(order.FieldCustomerID).Ints(sys)
	if err != nil {
		return nil, err
	}
	isKnown := map[int]bool{}
	for _, c := range known {
		isKnown[c] = true
	}
	var creates []*ent.CustomerGroupMemberCreate
	seen := map[int]bool{}
	for _, c := range customerIDs {
		if !isKnown[c] {
			return nil, apperror.BadInput("customerIDs", "%d is not one of your customers", c)
		}
		if !seen[c] {
			seen[c] = true
			creates = append(creates, db.CustomerGroupMember.Create().SetGroupID(g.ID).SetMerchantID(g.MerchantID).
				SetUserID(c).SetSource(customergroupmember.SourceMANUAL).SetCreatedAt(standing.Now(ctx)))
		}
	}
	err = db.CustomerGroupMember.CreateBulk(creates...).
		OnConflictColumns(customergroupmember.FieldGroupID, customergroupmember.FieldUserID, customergroupmember.FieldSource).
		DoNothing().Exec(sys)
	if err != nil && !isNoRows(err) {
		return nil, err
	}
	return g, nil
}

// RemoveGroupMembers takes customers added by hand out of a group; members by rule stay
// while they meet the rule.
func (s *Service) RemoveGroupMembers(ctx context.Context, db *ent.Client, id int, customerIDs []int) (*ent.CustomerGroup, error) {
	g, err := group(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if len(customerIDs) == 0 || len(customerIDs) > MaxGroupMembersPerCall {
		return nil, apperror.BadInput("customerIDs", "give 1 to %d customers", MaxGroupMembersPerCall)
	}
	_, err = db.CustomerGroupMember.Delete().Where(customergroupmember.GroupID(g.ID),
		customergroupmember.UserIDIn(customerIDs...), customergroupmember.SourceEQ(customergroupmember.SourceMANUAL)).
		Exec(viewer.SystemContext(ctx))
	return g, err
}

// RecomputeGroup applies a group's rule now (its merchant's staff).
func (s *Service) RecomputeGroup(ctx context.Context, db *ent.Client, id int) (*ent.CustomerGroup, error) {
	g, err := group(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := s.applyRule(ctx, db, g, nil); err != nil {
		return nil, err
	}
	return db.CustomerGroup.Get(ctx, g.ID)
}

// GroupMembers lists a group's members (each way they are in it), oldest first; the
// viewer reads them under the group's privacy.
func GroupMembers(ctx context.Context, db *ent.Client, g *ent.CustomerGroup) ([]*GroupMember, error) {
	rows, err := db.CustomerGroupMember.Query().Where(customergroupmember.GroupID(g.ID)).
		Order(customergroupmember.ByCreatedAt(), customergroupmember.ByID()).Limit(1000).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*GroupMember, len(rows))
	for i, r := range rows {
		out[i] = &GroupMember{CustomerID: r.UserID, Source: r.Source, AddedAt: r.CreatedAt}
	}
	return out, nil
}

// GroupMemberCount is how many customers are in a group (either way).
func GroupMemberCount(ctx context.Context, db *ent.Client, g *ent.CustomerGroup) (int, error) {
	return db.CustomerGroupMember.Query().Where(customergroupmember.GroupID(g.ID)).
		Unique(true).Select(customergroupmember.FieldUserID).Count(ctx)
}

// hasRule keeps the groups with a rule.
func hasRule() func(*sql.Selector) {
	return func(s *sql.Selector) {
		s.Where(sql.Or(sql.NotNull(s.C(customergroup.FieldMinPaidOrders)), sql.NotNull(s.C(customergroup.FieldMinSpend))))
	}
}

// applyRule replaces g's RULE members by the customers meeting its rule now (none
// without a rule). With staleBefore (the job) it first claims the round with a write
// conditional on the version read and the group being due, and returns errLost when
// another process claimed it.
func (s *Service) applyRule(ctx context.Context, db *ent.Client, g *ent.CustomerGroup, staleBefore *time.Time) error {
	sys := viewer.SystemContext(ctx)
	now := standing.Now(ctx)
	claim := db.CustomerGroup.Update().Where(customergroup.ID(g.ID), customergroup.Version(g.Version))
	if staleBefore != nil {
		claim.Where(customergroup.Or(customergroup.ComputedAtIsNil(), customergroup.ComputedAtLT(*staleBefore)))
	}
	n, err := claim.AddVersion(1).SetComputedAt(now).Save(sys)
	if err != nil {
		return err
	}
	if n == 0 {
		if staleBefore != nil {
			return errLost
		}
		return conflict("id", "GROUP_CHANGED", "the group changed meanwhile: try again")
	}
	want := map[int]bool{}
	if g.MinPaidOrders != nil || g.MinSpend != nil {
		var rows []aggregates
		err := db.Order.Query().Where(order.MerchantID(g.MerchantID), order.PaidAtNotNil(),
			counted(time.Time{}, now)).GroupBy(order.FieldCustomerID).
			Aggregate(ent.As(ent.Count(), "orders"), func(s *sql.Selector) string {
				return sql.As(fmt.Sprintf("COALESCE(SUM(%s - %s), 0)", s.C(order.FieldTotal), s.C(order.FieldRefundedAmount)), "spend")
			}).Scan(sys, &rows)
		if err != nil {
			return fmt.Errorf("reading the group's customers: %w", err)
		}
		for _, r := range rows {
			if (g.MinPaidOrders == nil || r.Orders >= *g.MinPaidOrders) && (g.MinSpend == nil || r.Spend >= *g.MinSpend) {
				want[r.CustomerID] = true
			}
		}
	}
	have, err := db.CustomerGroupMember.Query().Where(customergroupmember.GroupID(g.ID),
		customergroupmember.SourceEQ(customergroupmember.SourceRULE)).Select(customergroupmember.FieldUserID).Ints(sys)
	if err != nil {
		return err
	}
	var gone []int
	for _, u := range have {
		if !want[u] {
			gone = append(gone, u)
		}
		delete(want, u)
	}
	if len(gone) > 0 {
		if _, err := db.CustomerGroupMember.Delete().Where(customergroupmember.GroupID(g.ID),
			customergroupmember.SourceEQ(customergroupmember.SourceRULE), customergroupmember.UserIDIn(gone...)).Exec(sys); err != nil {
			return err
		}
	}
	var creates []*ent.CustomerGroupMemberCreate
	for _, u := range sortedSet(want) {
		creates = append(creates, db.CustomerGroupMember.Create().SetGroupID(g.ID).SetMerchantID(g.MerchantID).
			SetUserID(u).SetSource(customergroupmember.SourceRULE).SetCreatedAt(now))
	}
	for len(creates) > 0 {
		batch := creates[:min(len(creates), 500)]
		creates = creates[len(batch):]
		if err := db.CustomerGroupMember.CreateBulk(batch...).Exec(sys); err != nil {
			return err
		}
	}
	return nil
}

// recomputeGroups applies the rules of up to JobBatch due groups, each in its own
// transaction; a group another process claimed is skipped.
func (s *Service) recomputeGroups(ctx context.Context, db *ent.Client, staleBefore time.Time) (int, error) {
	sys := viewer.SystemContext(ctx)
	due, err := db.CustomerGroup.Query().Where(hasRule(),
		customergroup.Or(customergroup.ComputedAtIsNil(), customergroup.ComputedAtLT(staleBefore))).
		Order(customergroup.ByID()).Limit(JobBatch).All(sys)
	if err != nil {
		return 0, fmt.Errorf("finding due groups: %w", err)
	}
	done := 0
	var errs []error
	for _, g := range due {
		err := inTx(ctx, db, func(ctx context.Context, tx *ent.Client) error { return s.applyRule(ctx, tx, g, &staleBefore) })
		switch {
		case err == errLost:
		case err != nil:
			errs = append(errs, fmt.Errorf("group %d: %w", g.ID, err))
		default:
			done++
		}
	}
	return done, joinErrs(errs)
}

// InGroup reports whether user is in group id (either way).
func InGroup(ctx context.Context, db *ent.Client, userID int, id string) (bool, error) {
	gid, err := strconv.Atoi(id)
	if err != nil || gid <= 0 {
		return false, nil
	}
	return db.CustomerGroupMember.Query().Where(customergroupmember.GroupID(gid), customergroupmember.UserID(userID)).
		Exist(viewer.SystemContext(ctx))
}

// GroupMinSpend is the group's spend threshold, in its merchant's currency.
func GroupMinSpend(ctx context.Context, db *ent.Client, g *ent.CustomerGroup) (*money.Money, error) {
	if g.MinSpend == nil {
		return nil, nil
	}
	m, err := db.Merchant.Query().Where(merchant.ID(g.MerchantID)).Select(merchant.FieldCurrency).Only(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	return money.New(*g.MinSpend, m.Currency), nil
}
