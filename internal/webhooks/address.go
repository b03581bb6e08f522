package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/xiadan/xiadan/internal/apperror"
)

// maxURLLength is the longest webhook URL accepted.
const maxURLLength = 2048

// nonPublic are ranges beyond what netip classifies that a webhook must not reach: shared
// address space (carrier-grade NAT), "this network", IETF protocol assignments, benchmark
// and reserved space, and NAT64 (which can embed any IPv4 address, private ones too).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("fec0::/10"), // site-local (deprecated, still routed by some stacks)
	netip.MustParsePrefix("2002::/16"), // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"), // Teredo: embeds any IPv4 address
	netip.MustParsePrefix("::/96"),     // IPv4-compatible
}

// errNonPublic is returned by the dialer when a name resolves to a non-public address at
// delivery time (DNS rebinding), and recorded as the attempt's error.
var errNonPublic = errors.New("refused: the host resolves to a non-public address")

// publicAddr reports whether a webhook may reach ip in production.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// checkURL validates a webhook URL, naming field in its errors. Unless private targets are
// allowed, it must be https and its host must resolve only to public addresses.
func (s *Service) checkURL(ctx context.Context, field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", apperror.BadInput(field, "is required")
	}
	if utf8.RuneCountInString(raw) > maxURLLength {
		return "", apperror.BadInput(field, "must be at most %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", apperror.BadInput(field, "is not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && s.AllowPrivate:
	default:
		return "", apperror.BadInput(field, "must be an https URL")
	}
	if u.User != nil {
		return "", apperror.BadInput(field, "must not carry a user name or password")
	}
	if u.Fragment != "" {
		return "", apperror.BadInput(field, "must not have a fragment")
	}
	host := u.Hostname()
	if host == "" {
		return "", apperror.BadInput(field, "has no host")
	}
	if s.AllowPrivate {
		return u.String(), nil
	}
	addrs, err := s.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return "", apperror.BadInput(field, "host %q does not resolve", host)
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return "", apperror.BadInput(field, "must point to a public address, not %s", a)
		}
	}
	return u.String(), nil
}

func (s *Service) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// dialControl refuses connections to non-public addresses: checked on the address actually
// dialled, after DNS, so a name that resolved to a public address when the webhook was
// saved cannot be rebound to an internal one later.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused: unparsable address %q", address)
	}
	if !publicAddr(ap.Addr()) {
		return errNonPublic
	}
	return nil
}
