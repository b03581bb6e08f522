package schema

import (
	"entgo.io/ent"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/rule"
)

// Every entity's privacy policy lives here, so who-may-see-what reads in one place. Query
// policies filter rather than fail, so a forbidden record looks like a missing one.

// Policy of the User: people see themselves, owners see their staff, admins see all.
func (User) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterUsersToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.AllowUserSelfUpdate(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Merchant: the public sees ACTIVE merchants; owners, members and admins see theirs.
func (Merchant) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterMerchantsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.AllowMerchantApplication(),
			rule.AllowMerchantOwnerUpdate(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the MerchantInvitation: the merchant's owner and the invitee see it.
func (MerchantInvitation) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterInvitationsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.AllowInvitationByOwner(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Category: everyone reads the tree; admins shape it.
func (Category) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Product: the public sees what is on sale; staff manage their merchant's.
func (Product) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterProductsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.AllowProductWriteByMember(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the ProductVariant: follows its product.
func (ProductVariant) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterVariantsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.AllowVariantWriteByMember(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Order: buyers see theirs, merchants the ones they received. Orders change
// only through the order services, which run as the system after their own checks.
func (Order) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterOrdersToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the OrderItem: follows its order.
func (OrderItem) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterOrderItemsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Payment: the payer and the merchants of the paid orders see it.
func (Payment) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterPaymentsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the RefreshToken: only the auth service, as the system, touches tokens.
func (RefreshToken) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the EmailVerification: only the auth service, as the system, touches codes.
func (EmailVerification) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the UserIdentity: a person reads their own identities and nobody else does
// (admins included: an openid or a phone number is personal data nobody else needs);
// only the auth service, as the system, writes them.
func (UserIdentity) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.FilterToOwnUser()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the PhoneCode: only the auth service, as the system, touches codes.
func (PhoneCode) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the WebSignInState: only the auth service, as the system, touches it.
func (WebSignInState) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the AuditLog: admins read it; entries are written once and never changed.
func (AuditLog) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{
			rule.DenyUnlessCreate(),
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the SearchToken: an internal index, written only by the product hook.
func (SearchToken) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the StockMovement: the merchant's members and admins read the ledger; entries
// are written once, by the catalog and order services, and never changed.
func (StockMovement) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterStockMovementsToMembers(),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyUnlessCreate(),
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.AllowStockMovementByMember(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the CartLine: a person's own cart only.
func (CartLine) Policy() ent.Policy { return ownRecordPolicy() }

// Policy of the Address: a person's own addresses only.
func (Address) Policy() ent.Policy { return ownRecordPolicy() }

func ownRecordPolicy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterToOwnUser()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowOwnUserWrite(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the Checkout: its customer reads it; the checkout service writes it.
func (Checkout) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterToOwnUser()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the OrderEvent: visible with its order; appended by the order services only.
func (OrderEvent) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterOrderEventsToVisible()},
		Mutation: privacy.MutationPolicy{
			rule.DenyUnlessCreate(),
			rule.AllowIfSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the Shipment: visible with its order; written by the fulfilment service.
func (Shipment) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterShipmentsToVisible()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the TrackingEvent: visible with its shipment; written by the fulfilment service.
func (TrackingEvent) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterTrackingEventsToVisible()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the PaymentNotification: an operator's log.
func (PaymentNotification) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessCreate(), rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the Refund: visible with its payment; written by the payment service.
func (Refund) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterRefundsToVisible()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the RelayState: the relay's own bookkeeping.
func (RelayState) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the ApiClient: the merchant's owner and admins see its clients; the partner
// service writes them.
func (ApiClient) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the Webhook: read and written through the webhook service, which checks the
// merchant and scope.
func (Webhook) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the WebhookDelivery: as its webhook.
func (WebhookDelivery) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the WebhookAttempt: as its delivery.
func (WebhookAttempt) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the Upload: its owner, the staff of its merchant and admins read it; rows are
// created by their owner and changed only by the upload service (internal/upload), which
// runs as the system after its own checks.
func (Upload) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterUploadsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Policy of the RiskAssessment: admins only; buyers and merchants never read scores or
// rules (a merchant sees only the order's RISK_REVIEW status).
func (RiskAssessment) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// Policy of the RiskListEntry: admins only.
func (RiskListEntry) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}
