package conf

import (
	"fmt"
	"github.com/alluxio-go/alluxio/ufs"
	"sort"
	"strings"
)

// Kind is the type of a property's value: it decides how Load validates the
// value and which typed getter reads it.
type Kind int

// The kinds of property values.
const (
	KindString    Kind = iota // any text
	KindList                  // comma-separated strings
	KindInt                   // decimal integer, within Min..Max when a range is set
	KindPort                  // TCP port 1..65535
	KindBool                  // true or false, any case
	KindBytes                 // size such as 64MB (see ParseBytes), within Min..Max when a range is set
	KindBytesList             // comma-separated sizes
	KindDuration              // duration such as 5s (see ParseDuration)
	KindRatio                 // number in [0, 1]
	KindEnum                  // one of Values, any case on input, stored upper-case
	KindOctal                 // octal permission bits such as 022
	KindAddrList              // comma-separated host:port list
	KindFloat                 // positive decimal number
)

var kindNames = [...]string{
	KindString:    "string",
	KindList:      "list",
	KindInt:       "int",
	KindPort:      "port",
	KindBool:      "bool",
	KindBytes:     "bytes",
	KindBytesList: "bytes list",
	KindDuration:  "duration",
	KindRatio:     "ratio",
	KindEnum:      "enum",
	KindOctal:     "octal",
	KindAddrList:  "address list",
	KindFloat:     "number",
}

// String names the kind as the docs and `alluxio getConf` show it.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Property describes one known configuration key.
type Property struct {
	// Key is the property name, e.g. alluxio.master.hostname.
	Key string
	// Default is the value before ${} expansion; meaningful only when
	// HasDefault is set.
	Default string
	// HasDefault tells a property that is set unless configured from one
	// that is absent until someone sets it.
	HasDefault bool
	// Description is one line for `alluxio getConf` and the docs.
	Description string
	// Kind is the value's type.
	Kind Kind
	// Min and Max bound a KindInt or KindBytes value, inclusive; both zero
	// means unbounded.
	Min, Max int64
	// Values lists the allowed values of a KindEnum, upper-case.
	Values []string
	// Never marks a KindDuration that accepts "-1", meaning never.
	Never bool
}

func def(key string, kind Kind, value, desc string) Property {
	return Property{Key: key, Kind: kind, Default: value, HasDefault: true, Description: desc}
}

func opt(key string, kind Kind, desc string) Property {
	return Property{Key: key, Kind: kind, Description: desc}
}

func (p Property) between(lo, hi int64) Property {
	p.Min, p.Max = lo, hi
	return p
}

func (p Property) oneOf(values ...string) Property {
	p.Values = values
	return p
}

func (p Property) orNever() Property {
	p.Never = true
	return p
}

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
)

// FallbackHome is alluxio.home when neither ALLUXIO_HOME nor the caller
// names one, as in Alluxio.
const FallbackHome = "/opt/alluxio"

// tierLevels is how many tier levels the table spells out; the maximum of
// alluxio.worker.tieredstore.levels.
const tierLevels = 3

func buildTable() []Property {
	t := []Property{
		def("alluxio.home", KindString, FallbackHome,
			"Installation directory; ALLUXIO_HOME or the binary's location when set."),
		def("alluxio.work.dir", KindString, "${alluxio.home}",
			"Directory under which journal, metastore, logs and the default root UFS live."),
		def("alluxio.conf.dir", KindString, "${alluxio.home}/conf",
			"Directory holding alluxio-site.properties and alluxio-env.sh; ALLUXIO_CONF_DIR when set."),
		def("alluxio.logs.dir", KindString, "${alluxio.work.dir}/logs",
			"Directory for log files."),
		def("alluxio.log.level", KindEnum, "INFO",
			"Least severe log level written (alias alluxio.logger.type).").oneOf("DEBUG", "INFO", "WARN", "ERROR"),

		def("alluxio.master.hostname", KindString, "localhost",
			"Host name clients and workers use to reach the master."),
		def("alluxio.master.rpc.port", KindPort, "19998",
			"Master RPC port."),
		def("alluxio.master.web.port", KindPort, "19999",
			"Master web UI and metrics port."),
		def("alluxio.master.embedded.journal.port", KindPort, "19200",
			"Port of the master's Raft peer traffic."),
		def("alluxio.master.embedded.journal.addresses", KindAddrList, "",
			"Comma-separated host:port of every master's Raft peer port; empty for a single master."),
		def("alluxio.master.rpc.addresses", KindAddrList, "",
			"Comma-separated host:port of every master's RPC port, for clients of an HA cluster."),
		def("alluxio.master.journal.folder", KindString, "${alluxio.work.dir}/journal",
			"Directory (or UFS URI for the UFS journal) where the journal is kept."),
		def("alluxio.master.journal.type", KindEnum, "EMBEDDED",
			"Journal kind: EMBEDDED (Raft among masters) or UFS (ZooKeeper election, log on a shared UFS).").oneOf("EMBEDDED", "UFS"),
		def("alluxio.master.journal.checkpoint.period.entries", KindInt, "500000",
			"Journal entries after which the embedded journal snapshots the metastore and compacts its log (Alluxio's is 2000000; lower here, for shorter logs to keep and to catch up from).").between(1, 0),
		def("alluxio.master.journal.checkpoint.check.interval", KindDuration, "30s",
			"How often the embedded journal looks whether a snapshot is due (at a random time between this and twice it)."),
		def("alluxio.master.metastore", KindEnum, "ROCKS",
			"Metastore kind: ROCKS (on-disk, bbolt here) or HEAP (in memory).").oneOf("ROCKS", "HEAP"),
		def("alluxio.master.metastore.dir", KindString, "${alluxio.work.dir}/metastore",
			"Directory of the on-disk metastore."),
		def("alluxio.master.worker.timeout", KindDuration, "30s",
			"How long a worker that stopped heartbeating stays in the masters' reports."),
		def("alluxio.master.ufs.delete.deferred", KindBool, "true",
			"Whether an unlink of a file in an under-store that deletes many objects a request (S3) returns once the journal has it, the leading master deleting such files in batches soon after; false: every unlink waits for its DELETE."),
		def("alluxio.master.ttl.checker.interval", KindDuration, "1min",
			"How often the leading master deletes or frees entries whose TTL has passed."),
		def("alluxio.master.filesystem.liststatus.result.message.length", KindInt, "1000",
			"Most entries in one page of a directory listing; readdir, fs ls and the tree walks list page by page.").between(1, 100000),
		def("alluxio.master.mount.table.root.ufs", KindString, "${alluxio.work.dir}/underFSStorage",
			"Under-store URI mounted at the root of the namespace."),
		def("alluxio.master.mount.table.root.readonly", KindBool, "false",
			"Whether the root mount is read-only."),
		def("alluxio.master.mount.table.root.shared", KindBool, "true",
			"Whether the root mount's under-store is shared by all users."),

		def("alluxio.worker.hostname", KindString, "localhost",
			"Host name other nodes use to reach this worker."),
		def("alluxio.worker.rpc.port", KindPort, "29999",
			"Worker data and RPC port for remote clients."),
		def("alluxio.worker.web.port", KindPort, "30000",
			"Worker web UI and metrics port."),
		def("alluxio.worker.data.server.domain.socket.address", KindString, "${alluxio.work.dir}/run/worker.sock",
			"UNIX socket on which the worker serves the local FUSE daemon."),
		def("alluxio.worker.data.folder", KindString, "/alluxioworker/",
			"Sub-directory of each tier directory where the worker keeps its pages."),
		def("alluxio.worker.ramdisk.size", KindBytes, "2GB",
			"Size of the memory tier; the default quota of tier 0."),
		def("alluxio.worker.tieredstore.levels", KindInt, "1",
			"Number of storage tiers in use (levels 0..N-1).").between(1, tierLevels),
		def("alluxio.worker.membership.port", KindPort, "29997",
			"Port on which the worker gossips with the other workers (hashicorp/memberlist)."),
		opt("alluxio.worker.membership", KindAddrList,
			"Comma-separated gossip addresses (host:port) of workers to join; empty asks the masters which workers they know."),
		def("alluxio.worker.membership.virtual.nodes", KindInt, "160",
			"Points each worker has on the consistent-hash ring that places data.").between(1, 4096),
		def("alluxio.worker.block.annotator.class", KindString, "alluxio.worker.block.annotator.LRUAnnotator",
			"Eviction order of cached pages: LRU or LRFU (Alluxio's LRUAnnotator / LRFUAnnotator class names work too)."),
		def("alluxio.worker.block.annotator.lrfu.step.factor", KindRatio, "0.25",
			"LRFU: how much weight recency has against frequency (0 pure LFU, 1 pure LRU)."),
		def("alluxio.worker.block.annotator.lrfu.attenuation.factor", KindFloat, "2.0",
			"LRFU: how fast older accesses lose weight (greater than 1)."),
		def("alluxio.worker.page.store.page.size", KindBytes, "1MB",
			"Size of a cached page.").between(4*kib, 64*mib),
		def("alluxio.worker.network.reader.buffer.size", KindBytes, "64MB",
			"How far ahead of a sequential reader the worker fetches pages from the under-store (0: not at all), in runs of up to half of it and at most 16MB, one ranged request per run.").between(0, 1024*mib),

		def("alluxio.user.block.size.bytes.default", KindBytes, "64MB",
			"Unit of data placement: each block of a file has one home worker, chosen by consistent hashing.").between(4*kib, 0),
		def("alluxio.user.file.readtype.default", KindEnum, "CACHE",
			"Default read type: CACHE, CACHE_PROMOTE or NO_CACHE.").oneOf("CACHE", "CACHE_PROMOTE", "NO_CACHE"),
		def("alluxio.user.file.writetype.default", KindEnum, "CACHE_THROUGH",
			"Default write type: MUST_CACHE, CACHE_THROUGH, THROUGH or ASYNC_THROUGH.").oneOf("MUST_CACHE", "CACHE_THROUGH", "THROUGH", "ASYNC_THROUGH"),
		def("alluxio.user.file.metadata.sync.interval", KindDuration, "-1",
			"How old cached UFS metadata may be before it is synced again; -1 never, 0 always.").orNever(),
		def("alluxio.user.rpc.retry.max.duration", KindDuration, "2min",
			"How long a client retries a failing RPC (e.g. across a leader election)."),
		def("alluxio.user.short.circuit.enabled", KindBool, "true",
			"Whether a client reads the bytes of blocks whose home is the node's own worker from the worker's cache files itself (leased ranges, descriptors passed over the UNIX socket) instead of receiving them over the socket."),

		def("alluxio.fuse.mount.point", KindString, "/mnt/alluxio-fuse",
			"Local directory where the FUSE daemon mounts the namespace."),
		def("alluxio.fuse.mount.alluxio.path", KindString, "/",
			"Alluxio path shown at the FUSE mount point."),
		def("alluxio.fuse.mount.options", KindList, "allow_other",
			"Comma-separated FUSE mount options."),
		def("alluxio.fuse.entry.timeout", KindDuration, "1s",
			"How long the kernel caches a name lookup."),
		def("alluxio.fuse.attr.timeout", KindDuration, "1s",
			"How long the kernel caches file attributes."),
		def("alluxio.user.metadata.cache.max.size", KindInt, "100000",
			"Most paths whose attributes the FUSE daemon keeps in memory; 0 turns its metadata cache off.").between(0, 1<<30),
		def("alluxio.user.metadata.cache.expiration.time", KindDuration, "1s",
			"How long the FUSE daemon answers lookups of names it knows from its metadata cache, and listings of directories it knows whole, after the master last confirmed the cache; changes made through other nodes show up in stat and readdir within this plus alluxio.fuse.attr.timeout (opens and lookups of new names always ask the master)."),
		def("alluxio.fuse.max.read.bytes", KindBytes, "1MB",
			"Largest read request the kernel sends to the FUSE daemon; lowered to two pages under the system's pipe limit (/proc/sys/fs/pipe-max-size, 1 MiB by default) so that replies can be spliced.").between(4*kib, mib),
		def("alluxio.fuse.passthrough.enabled", KindBool, "true",
			"Whether fully cached local files are served by kernel passthrough where the kernel supports it."),
		def("alluxio.fuse.debug.enabled", KindBool, "false",
			"Whether the FUSE daemon logs every kernel request."),
		def("alluxio.fuse.web.port", KindInt, "0",
			"Port on alluxio.worker.hostname where the FUSE daemon serves Prometheus metrics (per-operation latency histograms); 0 serves none.").between(0, 65535),

		def("alluxio.security.authorization.permission.enabled", KindBool, "true",
			"Whether POSIX permissions are checked."),
		opt("alluxio.security.login.username", KindString,
			"User name the masters and workers act as in under-stores that have users (HDFS); default the OS user, or HADOOP_USER_NAME."),
		def("alluxio.security.authorization.root.squash", KindBool, "false",
			"Check calls made by root (from the CLI, or root on a FUSE mount) as the nobody user, who also owns what they create."),
		def("alluxio.security.authorization.permission.umask", KindOctal, "022",
			"Octal umask applied to new files and directories."),

		def("alluxio.zookeeper.enabled", KindBool, "false",
			"Whether masters elect their leader through ZooKeeper (with the UFS journal)."),
		opt("alluxio.zookeeper.address", KindAddrList,
			"Comma-separated host:port of the ZooKeeper ensemble."),
		def("alluxio.user.master.follower.reads.enabled", KindBool, "false",
			"Whether this client may read metadata from any master: a follower whose state is at most alluxio.master.follower.reads.max.staleness behind answers (the client's own changes are always seen)."),
		def("alluxio.master.follower.reads.max.staleness", KindDuration, "1s",
			"How far behind the leader a follower's state may be for it to answer follower reads."),
		def("alluxio.master.journal.tailer.sleep.time", KindDuration, "1s",
			"How often a standby master on the UFS journal looks for new journal entries."),
		def("alluxio.zookeeper.election.path", KindString, "/alluxio/election",
			"ZooKeeper path under which the masters of a UFS journal run for leader; clients read the leader there."),
		def("alluxio.zookeeper.session.timeout", KindDuration, "10s",
			"ZooKeeper session timeout: how long a leader that went silent keeps leading (Alluxio's default is 60s)."),
		opt("aws.accessKeyId", KindString,
			"Access key id for S3 under-stores."),
		opt("aws.secretKey", KindString,
			"Secret key for S3 under-stores."),
	}
	aliases := []string{"MEM", "SSD", "HDD"}
	for n := 0; n < tierLevels; n++ {
		prefix := fmt.Sprintf("alluxio.worker.tieredstore.level%d.", n)
		alias := def(prefix+"alias", KindEnum, aliases[n],
			fmt.Sprintf("Storage class of tier %d: MEM, SSD or HDD.", n)).oneOf("MEM", "SSD", "HDD")
		path := opt(prefix+"dirs.path", KindList,
			fmt.Sprintf("Comma-separated directories of tier %d.", n))
		quota := opt(prefix+"dirs.quota", KindBytesList,
			fmt.Sprintf("Comma-separated capacity of each tier %d directory; the last repeats for the rest.", n))
		if n == 0 {
			path = def(path.Key, path.Kind, "/dev/shm", path.Description)
			quota = def(quota.Key, quota.Kind, "${alluxio.worker.ramdisk.size}", quota.Description)
		}
		t = append(t,
			alias, path, quota,
			def(prefix+"dirs.mediumtype", KindList, "${"+prefix+"alias}",
				fmt.Sprintf("Comma-separated medium type of each tier %d directory.", n)),
			def(prefix+"watermark.high.ratio", KindRatio, "0.95",
				fmt.Sprintf("Used fraction of tier %d at which eviction starts.", n)),
			def(prefix+"watermark.low.ratio", KindRatio, "0.7",
				fmt.Sprintf("Used fraction of tier %d at which eviction stops.", n)),
		)
	}
	sort.Slice(t, func(i, j int) bool { return t[i].Key < t[j].Key })
	return t
}

var (
	table = buildTable()
	byKey = func() map[string]*Property {
		m := make(map[string]*Property, len(table))
		for i := range table {
			m[table[i].Key] = &table[i]
		}
		return m
	}()
)

// aliasOf maps an accepted alternative name to its property key.
var aliasOf = map[string]string{
	"alluxio.logger.type": "alluxio.log.level",
}

// Properties returns the known properties, sorted by key. The caller may
// modify the returned slice.
func Properties() []Property {
	out := make([]Property, len(table))
	copy(out, table)
	for i := range out {
		out[i].Values = append([]string(nil), out[i].Values...)
	}
	return out
}

// canonicalKey trims the key and resolves an alias.
func canonicalKey(key string) string {
	key = strings.TrimSpace(key)
	if k, ok := aliasOf[key]; ok {
		return k
	}
	return key
}

// passThroughPrefixes are families of keys handed to under-stores or mounts
// as they are; any key under them is known.
var passThroughPrefixes = []string{
	"alluxio.master.mount.table.root.option.",
	"alluxio.master.journal.ufs.option.",
	"alluxio.underfs.",
	"fs.kodo.",
	"s3a.",
}

// checkedPrefixes are the namespaces in which a key we do not know is
// probably a typo, so it is reported.
var checkedPrefixes = []string{"alluxio.", "fs.", "s3a.", "aws."}

var tierSuffixes = map[string]bool{
	"alias":                true,
	"dirs.path":            true,
	"dirs.quota":           true,
	"dirs.mediumtype":      true,
	"watermark.high.ratio": true,
	"watermark.low.ratio":  true,
}

// tierKey splits alluxio.worker.tieredstore.level<N>.<suffix>, N a single
// digit, into N and suffix.
func tierKey(key string) (level int, suffix string, ok bool) {
	rest, found := strings.CutPrefix(key, "alluxio.worker.tieredstore.level")
	if !found || len(rest) < 3 || rest[0] < '0' || rest[0] > '9' || rest[1] != '.' {
		return 0, "", false
	}
	suffix = rest[2:]
	if !tierSuffixes[suffix] {
		return 0, "", false
	}
	return int(rest[0] - '0'), suffix, true
}

// isKnown reports whether key is in the table, an alias, or in a templated
// or pass-through family.
func isKnown(key string) bool {
	if _, ok := byKey[key]; ok {
		return true
	}
	if _, ok := aliasOf[key]; ok {
		return true
	}
	if _, _, ok := tierKey(key); ok {
		return true
	}
	for _, p := range passThroughPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// isChecked reports whether an unknown key deserves a warning.
func isChecked(key string) bool {
	for _, p := range checkedPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// suggest returns the known key closest to key when it is close enough to
// be a likely typo, else "".
func suggest(key string) string {
	best, bestDist := "", len(key)/4+1
	if bestDist > 4 {
		bestDist = 4
	}
	for i := range table {
		if d := editDistance(key, table[i].Key, bestDist); d <= bestDist {
			if d < bestDist || best == "" {
				best, bestDist = table[i].Key, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit+1 when it
// is certainly larger than limit.
func editDistance(a, b string, limit int) int {
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// IsSecret reports whether key names a credential, whose value must never
// appear in a log line or an error message (ufs.IsSecretOption).
func IsSecret(key string) bool { return ufs.IsSecretOption(key) }

// Mask is what a secret value is shown as.
const Mask = "******"
