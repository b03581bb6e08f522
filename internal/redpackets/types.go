package redpackets

import (
	"time"

	"github.com/xiadan/xiadan/ent/redpacketcampaign"
)

// CreateInput is an admin's new campaign (createRedPacketCampaign).
type CreateInput struct {
	Name     string
	Currency string
	Split    redpacketcampaign.Split
	// Budget is the total of all packets, split into Count packets: RANDOM amounts
	// within [MinAmount, MaxAmount], or FIXED amounts of Budget/Count each.
	Budget    int64
	Count     int
	MinAmount *int64
	MaxAmount *int64
	StartsAt  time.Time
	EndsAt    time.Time
	// PerUserLimit is how many packets one customer may claim (1 when nil).
	PerUserLimit *int
	// ValidityHours is how long a claimed packet may be spent (24 when nil).
	ValidityHours *int
}

// Status is a claimed packet's state in a wallet.
type Status string

// The states of a claimed packet.
const (
	// StatusAvailable has balance left and has not expired.
	StatusAvailable Status = "AVAILABLE"
	// StatusUsed has been spent in full.
	StatusUsed Status = "USED"
	// StatusExpired expired with balance left.
	StatusExpired Status = "EXPIRED"
)

// Stats is a campaign's progress.
type Stats struct {
	ClaimedCount   int
	ClaimedAmount  int64
	RemainingCount int
}
