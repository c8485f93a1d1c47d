package hdfs

import (
	"encoding/xml"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/colinmarc/hdfs/v2/hadoopconf"

	"github.com/alluxio-go/alluxio/ufs"
)

// Option keys, in Alluxio's spelling. Lookups ignore case.
const (
	keyConfiguration = "alluxio.underfs.hdfs.configuration"
	keyLoginUser     = "alluxio.security.login.username"
	keyRemote        = "alluxio.underfs.hdfs.remote"
	keyTrash         = "alluxio.underfs.hdfs.trash.enabled"
	keyVersion       = "alluxio.underfs.version"
	keyImpersonation = "alluxio.security.underfs.hdfs.impersonation.enabled"
	keyKrbPrincipal  = "alluxio.security.underfs.hdfs.kerberos.client.principal"
	keyKrbKeytab     = "alluxio.security.underfs.hdfs.kerberos.client.keytab.file"
	// This project's keys.
	keyConnectTimeout = "alluxio.underfs.hdfs.connect.timeout"
	keyTimeout        = "alluxio.underfs.hdfs.request.timeout"
	keyRetryDuration  = "alluxio.underfs.hdfs.retry.max.duration"

	// hdfsNamespace starts every Alluxio HDFS property; an unknown key in
	// it is an error, since it is most likely a misspelt one.
	hdfsNamespace = "alluxio.underfs.hdfs."

	// envUser is Hadoop's override of the user under simple
	// authentication.
	envUser = "HADOOP_USER_NAME"
)

// Hadoop configuration keys the store reads from the XML files.
const (
	hkAuthentication = "hadoop.security.authentication"
	hkDefaultFS      = "fs.defaultFS"
	hkDefaultName    = "fs.default.name" // the deprecated spelling
	hkNameservices   = "dfs.nameservices"
	hkHANamenodes    = "dfs.ha.namenodes."
	hkRPCAddress     = "dfs.namenode.rpc-address"
	hkReplication    = "dfs.replication"
	hkBlockSize      = "dfs.blocksize"
	hkUseHostname    = "dfs.client.use.datanode.hostname"
	hkConnectTimeout = "ipc.client.connect.timeout"
	hkSocketTimeout  = "dfs.client.socket-timeout"
)

// Defaults of the options, those of Hadoop's client where it has one.
const (
	defaultPort           = "8020"           // the namenode's RPC port
	defaultConnectTimeout = 20 * time.Second // ipc.client.connect.timeout
	defaultTimeout        = 60 * time.Second // dfs.client.socket-timeout
	defaultRetryDuration  = 30 * time.Second
)

// ignoredKeys are Alluxio HDFS properties that have no meaning here
// (the Java implementation class, HAR archives, Alluxio's own multipart
// staging). They are accepted so that an existing alluxio-site.properties
// keeps working, with a warning.
var ignoredKeys = []string{
	"alluxio.underfs.hdfs.impl",
	"alluxio.underfs.hdfs.prefixes",
	"alluxio.underfs.hdfs.har.enabled",
	"alluxio.underfs.hdfs.har.fs.cache.max.size",
	"alluxio.underfs.hdfs.har.fs.cache.expired.time",
	"alluxio.underfs.hdfs.multipart.upload.memory.buffer.byte.size",
	"alluxio.underfs.hdfs.multipart.upload.memory.buffer.pool.capacity",
	"alluxio.underfs.hdfs.multipart.upload.retry.attempts",
}

// config is a parsed mount: the URI, the Hadoop configuration it names
// and the options.
type config struct {
	name      string   // "hdfs://authority/root", for errors and logs
	root      string   // absolute HDFS path of the mount root: "/" or "/a/b"
	addrs     []string // namenode RPC addresses, in failover order
	user      string   // the HDFS user
	userFrom  string   // where the user came from, for messages
	hadoop    hadoopconf.HadoopConf
	confFiles []string

	replication int   // 0: the namenode's default
	blockSize   int64 // 0: the namenode's default
	useHostname bool

	connectTimeout time.Duration
	timeout        time.Duration // one namenode call, or one datanode read or write
	retryFor       time.Duration // how long retryable failures are retried
	backoff        time.Duration // first retry delay; tests shorten it
	maxBackoff     time.Duration
}

// parseConfig reads a mount URI, its options and the Hadoop files they
// name. Errors name the URI's part, the key or the file at fault.
func parseConfig(u *url.URL, options map[string]string) (*config, error) {
	c := &config{
		connectTimeout: defaultConnectTimeout,
		timeout:        defaultTimeout,
		retryFor:       defaultRetryDuration,
		backoff:        200 * time.Millisecond,
		maxBackoff:     5 * time.Second,
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("want hdfs://namenode:port/path or hdfs://nameservice/path: %w", syscall.EINVAL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("user information in an hdfs:// URI is not supported; set %s or %s: %w",
			keyLoginUser, envUser, syscall.EINVAL)
	}
	o := ufs.NewOptions(options)
	known := append([]string{keyConfiguration, keyRemote, keyTrash, keyConnectTimeout, keyTimeout, keyRetryDuration},
		ignoredKeys...)
	if err := o.CheckNamespace(hdfsNamespace, known...); err != nil {
		return nil, err
	}
	for _, k := range ignoredKeys {
		if k, _, ok := o.Lookup(k); ok {
			slog.Warn("HDFS under-store option has no effect here", "component", "ufs/hdfs", "key", k)
		}
	}
	for _, k := range []string{keyKrbPrincipal, keyKrbKeytab} {
		if k, v, ok := o.Lookup(k); ok && v != "" {
			return nil, fmt.Errorf("option %s: Kerberos is not supported by this HDFS under-store: %w", k, syscall.ENOTSUP)
		}
	}
	if k, v, ok := o.Lookup(keyTrash); ok {
		on, err := ufs.ParseBool(k, v)
		if err != nil {
			return nil, err
		}
		if on {
			return nil, fmt.Errorf("option %s=true: deleting through the HDFS trash is not supported: %w", k, syscall.ENOTSUP)
		}
	}
	for _, k := range []string{keyRemote, keyImpersonation} {
		if k, v, ok := o.Lookup(k); ok {
			if _, err := ufs.ParseBool(k, v); err != nil {
				return nil, err
			}
		}
	}

	// The Hadoop configuration files.
	c.hadoop = hadoopconf.HadoopConf{}
	if _, v, ok := o.Lookup(keyConfiguration); ok && v != "" {
		for _, f := range strings.Split(v, ":") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			props, err := readHadoopXML(f)
			if err != nil {
				return nil, fmt.Errorf("option %s: %w", keyConfiguration, err)
			}
			for k, v := range props {
				c.hadoop[k] = v
			}
			c.confFiles = append(c.confFiles, f)
		}
		expand(c.hadoop)
	}
	if strings.EqualFold(strings.TrimSpace(c.hadoop[hkAuthentication]), "kerberos") {
		return nil, fmt.Errorf("%s=kerberos (in %s): Kerberos is not supported by this HDFS under-store: %w",
			hkAuthentication, strings.Join(c.confFiles, ", "), syscall.ENOTSUP)
	}

	// The namenodes.
	authority := u.Host
	if authority == "" {
		def := c.hadoop[hkDefaultFS]
		if def == "" {
			def = c.hadoop[hkDefaultName]
		}
		du, err := url.Parse(def)
		if def == "" || err != nil || du.Scheme != "hdfs" || du.Host == "" {
			return nil, fmt.Errorf("hdfs:///path names no namenode and %s (from %s) is %q: give hdfs://namenode:port/path: %w",
				hkDefaultFS, c.confSource(), ufs.Redact(def), syscall.EINVAL)
		}
		authority = du.Host
	}
	var err error
	if c.addrs, err = c.namenodes(authority); err != nil {
		return nil, err
	}
	root, err := ufs.Clean(u.Path)
	if err != nil {
		return nil, fmt.Errorf("bad path %q: %w", u.Path, syscall.EINVAL)
	}
	c.root = "/" + root
	c.name = "hdfs://" + authority + c.root
	if root == "" {
		c.name = "hdfs://" + authority + "/"
	}

	// The user: the login user option, then Hadoop's HADOOP_USER_NAME, then
	// the user of the process.
	switch k, v, ok := o.Lookup(keyLoginUser); {
	case ok && v != "":
		c.user, c.userFrom = v, k
	case os.Getenv(envUser) != "":
		c.user, c.userFrom = os.Getenv(envUser), envUser
	default:
		cur, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("no HDFS user: set %s or %s (%v): %w", keyLoginUser, envUser, err, syscall.EINVAL)
		}
		c.user, c.userFrom = cur.Username, "the process's user"
	}

	// Client settings of the Hadoop files, then the options.
	if v := c.hadoop[hkReplication]; v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 512 {
			return nil, fmt.Errorf("%s=%q (in %s): want a replication from 1 to 512: %w", hkReplication, v, c.confSource(), syscall.EINVAL)
		}
		c.replication = n
	}
	if v := c.hadoop[hkBlockSize]; v != "" {
		n, err := hadoopBytes(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q (in %s): want a size such as 128m: %w", hkBlockSize, v, c.confSource(), syscall.EINVAL)
		}
		c.blockSize = n
	}
	c.useHostname = strings.EqualFold(strings.TrimSpace(c.hadoop[hkUseHostname]), "true")
	for key, dst := range map[string]*time.Duration{hkConnectTimeout: &c.connectTimeout, hkSocketTimeout: &c.timeout} {
		if v := strings.TrimSpace(c.hadoop[key]); v != "" {
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms < 0 {
				return nil, fmt.Errorf("%s=%q (in %s): want milliseconds: %w", key, v, c.confSource(), syscall.EINVAL)
			}
			*dst = time.Duration(ms) * time.Millisecond
		}
	}
	for key, dst := range map[string]*time.Duration{keyConnectTimeout: &c.connectTimeout, keyTimeout: &c.timeout,
		keyRetryDuration: &c.retryFor} {
		if k, v, ok := o.Lookup(key); ok {
			if *dst, err = ufs.ParseDuration(k, v); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// confSource names the configuration files for messages.
func (c *config) confSource() string {
	if len(c.confFiles) == 0 {
		return keyConfiguration + ", which is not set"
	}
	return strings.Join(c.confFiles, ", ")
}

// namenodes resolves a URI's authority to namenode addresses: an HA
// nameservice of the Hadoop files (dfs.ha.namenodes.<ns> and
// dfs.namenode.rpc-address.<ns>.<nn>, in the listed order), a federated
// nameservice without HA (dfs.namenode.rpc-address.<ns>), or host[:port]
// with Hadoop's default port 8020.
func (c *config) namenodes(authority string) ([]string, error) {
	if _, _, err := net.SplitHostPort(authority); err == nil {
		if err := checkAddr(authority); err != nil {
			return nil, fmt.Errorf("namenode address %q: %v: %w", authority, err, syscall.EINVAL)
		}
		return []string{authority}, nil
	}
	ns := authority
	if ids := c.hadoop[hkHANamenodes+ns]; ids != "" {
		var addrs []string
		for _, id := range strings.Split(ids, ",") {
			if id = strings.TrimSpace(id); id == "" {
				continue
			}
			key := hkRPCAddress + "." + ns + "." + id
			a := strings.TrimSpace(c.hadoop[key])
			if a == "" {
				return nil, fmt.Errorf("nameservice %s: namenode %s has no %s in %s: %w", ns, id, key, c.confSource(), syscall.EINVAL)
			}
			if err := checkAddr(a); err != nil {
				return nil, fmt.Errorf("%s=%q (in %s): want host:port (%v): %w", key, a, c.confSource(), err, syscall.EINVAL)
			}
			addrs = append(addrs, a)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%s%s (in %s) lists no namenode: %w", hkHANamenodes, ns, c.confSource(), syscall.EINVAL)
		}
		return addrs, nil
	}
	if a := strings.TrimSpace(c.hadoop[hkRPCAddress+"."+ns]); a != "" {
		if err := checkAddr(a); err != nil {
			return nil, fmt.Errorf("%s.%s=%q (in %s): want host:port (%v): %w", hkRPCAddress, ns, a, c.confSource(), err, syscall.EINVAL)
		}
		return []string{a}, nil
	}
	for _, s := range strings.Split(c.hadoop[hkNameservices], ",") {
		if strings.TrimSpace(s) == ns {
			return nil, fmt.Errorf("nameservice %s is in %s but neither %s%s nor %s.%s is set (in %s): %w",
				ns, hkNameservices, hkHANamenodes, ns, hkRPCAddress, ns, c.confSource(), syscall.EINVAL)
		}
	}
	if strings.Contains(authority, ":") {
		return nil, fmt.Errorf("bad namenode address %q: %w", authority, syscall.EINVAL)
	}
	return []string{net.JoinHostPort(authority, defaultPort)}, nil
}

// checkAddr checks a namenode's host:port.
func checkAddr(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

// readHadoopXML reads the properties of a Hadoop configuration file.
func readHadoopXML(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Properties []struct {
			Name  string `xml:"name"`
			Value string `xml:"value"`
		} `xml:"property"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a Hadoop configuration file: %v: %w", path, err, syscall.EINVAL)
	}
	props := map[string]string{}
	for _, p := range doc.Properties {
		props[strings.TrimSpace(p.Name)] = strings.TrimSpace(p.Value)
	}
	return props, nil
}

// expand substitutes ${name} in values with other properties, or
// ${env.NAME} with the environment, as Hadoop's Configuration does.
// Unknown references are left as they are.
func expand(props map[string]string) {
	for k, v := range props {
		for range 20 {
			i := strings.Index(v, "${")
			if i < 0 {
				break
			}
			j := strings.Index(v[i:], "}")
			if j < 0 {
				break
			}
			ref := v[i+2 : i+j]
			val, ok := props[ref]
			if e, isEnv := strings.CutPrefix(ref, "env."); isEnv {
				val, ok = os.LookupEnv(e)
			}
			if !ok || strings.Contains(val, "${"+ref+"}") {
				break
			}
			v = v[:i] + val + v[i+j+1:]
		}
		props[k] = v
	}
}

// hadoopBytes reads a size as Hadoop's getLongBytes does: a number with
// an optional binary prefix k, m, g, t, p, e.
func hadoopBytes(v string) (int64, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	if n := len(v); n > 0 {
		if i := strings.IndexByte("kmgtpe", v[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			v = v[:n-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}
