package meta

import (
	"errors"
	"net/url"
	"strings"
	"syscall"
)

// secretKeyWords mark option keys whose values are credentials.
var secretKeyWords = []string{"secret", "password", "accesskey", "access.key", "token", "credential"}

// isSecretKey reports whether an option key names a credential.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// redactURI hides the user information of a URI (s3://key:secret@bucket)
// so that it can appear in logs and errors.
func redactURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User("xxxxx")
	return u.String()
}

// scrubError returns err, or when its text contains a credential from the
// URI's user information or from a secret option, an error with the same
// errno whose text has them replaced. The replacement keeps errors.Is
// working for the errno class and drops the rest of the chain, which would
// still print the secret.
func scrubError(err error, uri string, opts map[string]string) error {
	if err == nil {
		return nil
	}
	var secrets []string
	if u, perr := url.Parse(uri); perr == nil && u.User != nil {
		secrets = append(secrets, u.User.String())
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw))
		}
	}
	for k, v := range opts {
		if isSecretKey(k) && v != "" {
			secrets = append(secrets, v)
		}
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "xxxxx")
		}
	}
	if clean == msg {
		return err
	}
	se := &scrubbedError{msg: clean, errno: syscall.EIO}
	errors.As(err, &se.errno)
	return se
}

// scrubbedError is an error whose text had credentials removed; it keeps
// only the errno of the original chain.
type scrubbedError struct {
	msg   string
	errno syscall.Errno
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.errno }
