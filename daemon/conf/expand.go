package conf

import (
	"strings"
)

// expanded is a value with its ${key} references resolved.
type expanded struct {
	value string
	// secret is set when the value is, or includes, a credential.
	secret bool
}

// expander resolves ${key} references among raw settings, depth first,
// reporting a cycle or a reference to an unset key once, on the key where
// it was found.
type expander struct {
	raw     map[string]setting
	done    map[string]expanded
	failed  map[string]bool
	stack   []string
	onStack map[string]int
	errs    []*PropertyError
}

func expandAll(raw map[string]setting) (map[string]expanded, []*PropertyError) {
	e := &expander{
		raw:     raw,
		done:    make(map[string]expanded, len(raw)),
		failed:  map[string]bool{},
		onStack: map[string]int{},
	}
	for _, key := range sortedKeys(raw) {
		e.resolve(key)
	}
	return e.done, e.errs
}

func (e *expander) fail(key, reason string) {
	s := e.raw[key]
	e.errs = append(e.errs, &PropertyError{
		Key:    key,
		Value:  shown(key, s.value, false),
		From:   s.from.String(),
		Reason: reason,
		Err:    errInvalid,
	})
}

func (e *expander) resolve(key string) (expanded, bool) {
	if v, ok := e.done[key]; ok {
		return v, true
	}
	if e.failed[key] {
		return expanded{}, false
	}
	if i, ok := e.onStack[key]; ok {
		// Blame the member the user set with the highest precedence, not
		// whichever default happened to be resolved first.
		members := e.stack[i:]
		at := 0
		for j, k := range members {
			if e.raw[k].from.src > e.raw[members[at]].from.src {
				at = j
			}
		}
		cycle := append(append(append([]string(nil), members[at:]...), members[:at]...), members[at])
		e.fail(members[at], "cyclic reference "+strings.Join(cycle, " -> "))
		return expanded{}, false
	}
	e.onStack[key] = len(e.stack)
	e.stack = append(e.stack, key)
	defer func() {
		e.stack = e.stack[:len(e.stack)-1]
		delete(e.onStack, key)
	}()

	s := e.raw[key]
	out := expanded{secret: IsSecret(key)}
	var b strings.Builder
	rest := s.value
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i+2:], '}')
		if j <= 0 {
			break // unterminated or empty: literal text
		}
		ref := canonicalKey(rest[i+2 : i+2+j])
		b.WriteString(rest[:i])
		rest = rest[i+2+j+1:]
		if _, ok := e.raw[ref]; !ok {
			e.failed[key] = true
			e.fail(key, "refers to ${"+ref+"}, which is not set")
			return expanded{}, false
		}
		v, ok := e.resolve(ref)
		if !ok {
			e.failed[key] = true
			return expanded{}, false
		}
		b.WriteString(v.value)
		out.secret = out.secret || v.secret
	}
	b.WriteString(rest)
	out.value = b.String()
	e.done[key] = out
	return out, true
}
