package config

import "fmt"

// validateRevoked checks tls.revoked, and refuses the old serial-only
// tls.revoked_serials unless it is empty.
func (c *Config) validateRevoked(bad func(key, format string, args ...any)) {
	if len(c.TLS.RevokedSerials) > 0 {
		bad("tls.revoked_serials", "no longer supported: a serial number is unique only per issuing CA, so each revoked "+
			"certificate is now listed with its issuer's agency under tls.revoked, e.g. "+
			`revoked: [{agency: %s, serial: "%s"}]`, c.Agency, c.TLS.RevokedSerials[0])
	}
	for i, r := range c.TLS.Revoked {
		key := fmt.Sprintf("tls.revoked[%d]", i)
		switch _, partner := c.Partner(r.Agency); {
		case r.Agency == "":
			bad(key+".agency", "required: the agency whose CA issued the certificate")
		case r.Agency != c.Agency && !partner:
			bad(key+".agency", "%q is neither the own agency nor a partner", r.Agency)
		}
		if _, ok := parseHex(r.Serial); !ok {
			bad(key+".serial", "not a hex serial number: %q", r.Serial)
		}
	}
}
