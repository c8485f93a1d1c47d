package conf

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// splitList splits a comma-separated value, trimming items and dropping
// empty ones.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parse checks v against the property's kind and returns the typed value
// (string, []string, int, bool, int64, []int64, time.Duration, float64) and
// the value as stored (enums upper-cased, others as given).
func (p *Property) parse(v string) (any, string, error) {
	t := strings.TrimSpace(v)
	var bad error = syscall.EINVAL
	switch p.Kind {
	case KindString:
		return v, v, nil
	case KindList:
		return splitList(v), v, nil
	case KindInt:
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || !p.inRange(n) || n != int64(int(n)) {
			return nil, "", bad
		}
		return int(n), v, nil
	case KindPort:
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 65535 {
			return nil, "", bad
		}
		return n, v, nil
	case KindBool:
		switch strings.ToLower(t) {
		case "true":
			return true, v, nil
		case "false":
			return false, v, nil
		}
		return nil, "", bad
	case KindBytes:
		n, err := ParseBytes(t)
		if err != nil {
			return nil, "", err
		}
		if !p.inRange(n) {
			return nil, "", bad
		}
		return n, v, nil
	case KindBytesList:
		var sizes []int64
		for _, item := range splitList(v) {
			n, err := ParseBytes(item)
			if err != nil {
				return nil, "", err
			}
			sizes = append(sizes, n)
		}
		return sizes, v, nil
	case KindDuration:
		d, err := ParseDuration(t)
		if err != nil {
			return nil, "", err
		}
		if d < 0 && !p.Never {
			return nil, "", bad
		}
		return d, v, nil
	case KindRatio:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return nil, "", bad
		}
		return f, v, nil
	case KindFloat:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
			return nil, "", bad
		}
		return f, v, nil
	case KindEnum:
		u := strings.ToUpper(t)
		for _, allowed := range p.Values {
			if u == allowed {
				return u, u, nil
			}
		}
		return nil, "", bad
	case KindOctal:
		if len(t) == 0 || len(t) > 4 {
			return nil, "", bad
		}
		n, err := strconv.ParseUint(t, 8, 32)
		if err != nil || n > 0o777 {
			return nil, "", bad
		}
		return int(n), v, nil
	case KindAddrList:
		addrs := splitList(v)
		for _, a := range addrs {
			host, port, err := net.SplitHostPort(a)
			if err != nil || host == "" {
				return nil, "", bad
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return nil, "", bad
			}
		}
		return addrs, v, nil
	}
	return nil, "", fmt.Errorf("conf: %s has unknown kind %v: %w", p.Key, p.Kind, syscall.EINVAL)
}

// inRange applies Min and Max; both zero means unbounded, Max zero alone
// means no upper bound.
func (p *Property) inRange(n int64) bool {
	if p.Min == 0 && p.Max == 0 {
		return true
	}
	return n >= p.Min && (p.Max == 0 || n <= p.Max)
}

// want says what a valid value looks like, for error messages.
func (p *Property) want() string {
	bounded := p.Min != 0 || p.Max != 0
	switch p.Kind {
	case KindInt:
		switch {
		case bounded && p.Max != 0:
			return fmt.Sprintf("want an integer from %d to %d", p.Min, p.Max)
		case bounded:
			return fmt.Sprintf("want an integer of at least %d", p.Min)
		}
		return "want an integer"
	case KindPort:
		return "want a port from 1 to 65535"
	case KindBool:
		return "want true or false"
	case KindBytes:
		const s = "want a size such as 64MB (units B, KB, MB, GB, TB, PB)"
		switch {
		case bounded && p.Max != 0:
			return fmt.Sprintf("%s from %s to %s", s, FormatBytes(p.Min), FormatBytes(p.Max))
		case bounded:
			return fmt.Sprintf("%s of at least %s", s, FormatBytes(p.Min))
		}
		return s
	case KindBytesList:
		return "want comma-separated sizes such as 16GB,100GB (units B, KB, MB, GB, TB, PB)"
	case KindDuration:
		s := "want a duration such as 500ms, 10s, 2min, 1h or 1d (a plain number is milliseconds)"
		if p.Never {
			s += ", or -1 for never"
		}
		return s
	case KindRatio:
		return "want a number from 0 to 1"
	case KindFloat:
		return "want a positive number such as 2.0"
	case KindEnum:
		return "want one of " + strings.Join(p.Values, ", ")
	case KindOctal:
		return "want octal permission bits from 000 to 777, such as 022"
	case KindAddrList:
		return "want comma-separated host:port pairs"
	}
	return "want a " + p.Kind.String()
}
