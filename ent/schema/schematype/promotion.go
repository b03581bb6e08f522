package schematype

// PromotionTier is one step of a full reduction (满减): Off minor units off once the
// in-scope lines reach Threshold minor units.
type PromotionTier struct {
	Threshold int64 `json:"threshold"`
	Off       int64 `json:"off"`
}
