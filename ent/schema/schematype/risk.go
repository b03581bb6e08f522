package schematype

// RiskRuleHit is one risk rule that fired on an order (internal/risk): its code, the
// score it added and an explanation for the admin who reviews the order.
type RiskRuleHit struct {
	Code        string `json:"code"`
	Score       int    `json:"score"`
	Explanation string `json:"explanation"`
}
