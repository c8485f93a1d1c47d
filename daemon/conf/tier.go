package conf

import (
	"fmt"
	"strconv"
	"strings"
)

// Tier is one storage level of a worker, from the
// alluxio.worker.tieredstore.level<N>.* properties.
type Tier struct {
	// Level is N, 0 being the fastest.
	Level int
	// Alias is MEM, SSD or HDD.
	Alias string
	// Dirs are the directories of the level, at least one.
	Dirs []string
	// Quotas holds the capacity in bytes of each directory; same length as
	// Dirs (a shorter list in the configuration repeats its last item).
	Quotas []int64
	// MediumTypes holds the medium of each directory; same length as Dirs
	// (defaults to Alias; a shorter list repeats its last item), upper-case.
	MediumTypes []string
	// High and Low are the watermarks: eviction starts when the used
	// fraction reaches High and stops at Low.
	High, Low float64
}

// Tiers returns the storage levels in use, alluxio.worker.tieredstore.levels
// of them, fastest first. The caller may modify the result.
func (c *Config) Tiers() []Tier {
	out := make([]Tier, len(c.tiers))
	for i, t := range c.tiers {
		t.Dirs = append([]string(nil), t.Dirs...)
		t.Quotas = append([]int64(nil), t.Quotas...)
		t.MediumTypes = append([]string(nil), t.MediumTypes...)
		out[i] = t
	}
	return out
}

// tierError reports an inconsistency among tier properties on key.
func (c *Config) tierError(key, reason string) error {
	return &PropertyError{
		Key:    key,
		Value:  shown(key, c.values[key], c.secret[key]),
		From:   c.origins[key].String(),
		Reason: reason,
		Err:    errInvalid,
	}
}

// describe names another key and its value for a message about key.
func (c *Config) describe(key string) string {
	if _, ok := c.values[key]; !ok {
		return key + " (unset)"
	}
	return fmt.Sprintf("%s (%s, from %s)", key, shown(key, c.values[key], c.secret[key]), c.origins[key])
}

// buildTiers checks the levels in use against each other and builds their
// views. Levels at or beyond the count are not looked at.
func (c *Config) buildTiers(levels int) ([]Tier, []error) {
	var (
		tiers   []Tier
		errs    []error
		aliasAt = map[string]string{}
	)
	for n := 0; n < levels; n++ {
		prefix := "alluxio.worker.tieredstore.level" + strconv.Itoa(n) + "."
		aliasKey, pathKey, quotaKey, mediumKey := prefix+"alias", prefix+"dirs.path", prefix+"dirs.quota", prefix+"dirs.mediumtype"
		highKey, lowKey := prefix+"watermark.high.ratio", prefix+"watermark.low.ratio"

		t := Tier{Level: n}
		t.Alias, _ = c.typed[aliasKey].(string)
		t.Dirs, _ = c.typed[pathKey].([]string)
		t.Quotas, _ = c.typed[quotaKey].([]int64)
		t.MediumTypes, _ = c.typed[mediumKey].([]string)
		t.High, _ = c.typed[highKey].(float64)
		t.Low, _ = c.typed[lowKey].(float64)

		if other, dup := aliasAt[t.Alias]; dup {
			errs = append(errs, c.tierError(aliasKey, "same alias as "+c.describe(other)+"; each level needs its own"))
		}
		aliasAt[t.Alias] = aliasKey

		if len(t.Dirs) == 0 {
			errs = append(errs, c.tierError(pathKey, fmt.Sprintf(
				"want at least one directory for level %d, as %s", n, c.describe("alluxio.worker.tieredstore.levels"))))
			continue
		}
		switch {
		case len(t.Quotas) == 0:
			errs = append(errs, c.tierError(quotaKey, "want a quota for the directories of "+c.describe(pathKey)))
		case len(t.Quotas) > len(t.Dirs):
			errs = append(errs, c.tierError(quotaKey, fmt.Sprintf(
				"%d quotas for %d directories in %s", len(t.Quotas), len(t.Dirs), c.describe(pathKey))))
		}
		if len(t.MediumTypes) > len(t.Dirs) {
			errs = append(errs, c.tierError(mediumKey, fmt.Sprintf(
				"%d medium types for %d directories in %s", len(t.MediumTypes), len(t.Dirs), c.describe(pathKey))))
		}
		if t.Low >= t.High {
			errs = append(errs, c.tierError(lowKey, "must be below "+c.describe(highKey)))
		}
		if len(t.MediumTypes) == 0 {
			t.MediumTypes = []string{t.Alias}
		}
		t.Quotas = padLast(t.Quotas, len(t.Dirs))
		t.MediumTypes = padLast(t.MediumTypes, len(t.Dirs))
		for i, m := range t.MediumTypes {
			t.MediumTypes[i] = strings.ToUpper(m)
		}
		tiers = append(tiers, t)
	}
	return tiers, errs
}

// padLast extends s to n items by repeating its last item; a longer s is
// returned as it is.
func padLast[T any](s []T, n int) []T {
	out := append([]T(nil), s...)
	for len(out) > 0 && len(out) < n {
		out = append(out, out[len(out)-1])
	}
	return out
}
