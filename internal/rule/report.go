package rule

import "github.com/xiadan/xiadan/ent/privacy"

// FilterReportsToMembers shows a merchant's reports and report schedules to its members;
// platform-wide ones (no merchant) and other merchants' stay hidden (admins pass before).
func FilterReportsToMembers() privacy.QueryRule { return filterToOwnMerchant("reports") }
