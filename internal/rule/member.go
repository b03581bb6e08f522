package rule

import "github.com/xiadan/xiadan/ent/privacy"

// FilterCustomerGroupsToMembers shows a merchant's customer groups and their members to its
// staff only: a customer never learns which groups a merchant put them in.
func FilterCustomerGroupsToMembers() privacy.QueryRule { return filterToOwnMerchant("customer groups") }
