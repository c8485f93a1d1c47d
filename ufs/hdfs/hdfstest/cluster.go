package hdfstest

import (
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config describes a test cluster. The zero value is one namenode, one
// datanode, 1 MiB blocks and permission checking on.
type Config struct {
	// Datanodes is how many datanodes run (default 1).
	Datanodes int
	// Replication is the default replication the namenode advertises in
	// getServerDefaults (default: the number of datanodes, at most 3).
	Replication int
	// BlockSize is the default block size the namenode advertises
	// (default 1 MiB, so that files of a few MiB span several blocks).
	BlockSize uint64
	// MinBlockSize is dfs.namenode.fs-limits.min-block-size (default
	// 64 KiB; HDFS's own default is 1 MiB).
	MinBlockSize uint64
	// BytesPerChecksum is the chunk size of the checksums (default 512).
	BytesPerChecksum int
	// ListLimit is dfs.ls.limit, the entries of one getListing page
	// (default 1000).
	ListLimit int
	// Superuser is the user the namenode runs as, who passes every
	// permission check (default "hdfs"); it owns the root directory.
	Superuser string
	// Supergroup is dfs.permissions.superusergroup (default "supergroup").
	Supergroup string
	// Groups maps users to their groups (default: a user's only group is
	// the user's name).
	Groups map[string][]string
	// RootMode is the permission of the root directory (default 0755).
	RootMode uint32
	// NoPermissions turns dfs.permissions.enabled off.
	NoPermissions bool
	// HA runs two namenodes over the one namespace: nn1 active, nn2
	// standby answering StandbyException.
	HA bool
	// Dir holds the datanodes' block files (default: a temporary
	// directory, in /dev/shm where there is one, removed by Close).
	Dir string
	// Capacity is each datanode's reported capacity (default 64 GiB).
	Capacity uint64
}

// permissions reports whether permission checking is on.
func (c Config) permissions() bool { return !c.NoPermissions }

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	if c.Datanodes <= 0 {
		c.Datanodes = 1
	}
	if c.Replication <= 0 {
		c.Replication = min(3, c.Datanodes)
	}
	if c.BlockSize == 0 {
		c.BlockSize = 1 << 20
	}
	if c.MinBlockSize == 0 {
		c.MinBlockSize = 64 << 10
	}
	if c.BytesPerChecksum <= 0 {
		c.BytesPerChecksum = 512
	}
	if c.ListLimit <= 0 {
		c.ListLimit = 1000
	}
	if c.Superuser == "" {
		c.Superuser = "hdfs"
	}
	if c.Supergroup == "" {
		c.Supergroup = "supergroup"
	}
	if c.RootMode == 0 {
		c.RootMode = 0o755
	}
	if c.Capacity == 0 {
		c.Capacity = 64 << 30
	}
	return c
}

// Cluster is a running namenode (two with HA) and its datanodes, all on
// 127.0.0.1. Its methods are safe for concurrent use.
type Cluster struct {
	cfg    Config
	ns     *namespace
	nns    []*namenode
	dns    []*datanode
	dir    string
	ownDir bool
	faults faults

	activeMu sync.Mutex // guards active
	active   int

	closeOnce sync.Once
}

// Start starts a cluster. Close stops it.
func Start(cfg Config) (*Cluster, error) {
	cfg = cfg.withDefaults()
	c := &Cluster{cfg: cfg, ns: newNamespace(cfg), dir: cfg.Dir}
	c.faults.init()
	if c.dir == "" {
		parent := "" // the default temporary directory, unless tmpfs is at hand
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			parent = "/dev/shm"
		}
		d, err := os.MkdirTemp(parent, "hdfstest-")
		if err != nil && parent != "" {
			d, err = os.MkdirTemp("", "hdfstest-")
		}
		if err != nil {
			return nil, err
		}
		c.dir, c.ownDir = d, true
	}
	for i := 0; i < cfg.Datanodes; i++ {
		dn, err := startDatanode(c, i, filepath.Join(c.dir, fmt.Sprintf("dn%d", i)))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.dns = append(c.dns, dn)
	}
	c.ns.datanodes = c.dns
	n := 1
	if cfg.HA {
		n = 2
	}
	for i := 0; i < n; i++ {
		nn, err := startNamenode(c, fmt.Sprintf("nn%d", i+1))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nns = append(c.nns, nn)
	}
	return c, nil
}

// Close stops the namenodes and datanodes and removes the block files
// of a cluster that made its own directory.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		for _, nn := range c.nns {
			nn.close()
		}
		for _, dn := range c.dns {
			dn.kill()
		}
		if c.ownDir {
			os.RemoveAll(c.dir)
		}
	})
	return nil
}

// Addr is the RPC address (127.0.0.1:port) of the first namenode.
func (c *Cluster) Addr() string { return c.nns[0].addr() }

// NamenodeAddrs are the RPC addresses of the namenodes, nn1 first.
func (c *Cluster) NamenodeAddrs() []string {
	var out []string
	for _, nn := range c.nns {
		out = append(out, nn.addr())
	}
	return out
}

// DatanodeAddrs are the transfer addresses of the datanodes.
func (c *Cluster) DatanodeAddrs() []string {
	var out []string
	for _, dn := range c.dns {
		out = append(out, dn.addr())
	}
	return out
}

// isActive reports whether nn serves calls (the others answer
// StandbyException).
func (c *Cluster) isActive(nn *namenode) bool {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	return c.nns[c.active] == nn
}

// Active is the index of the active namenode (0 for nn1).
func (c *Cluster) Active() int {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	return c.active
}

// Failover makes the next namenode active and the current one standby,
// as an administrator's "hdfs haadmin -failover" does.
func (c *Cluster) Failover() {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	c.active = (c.active + 1) % len(c.nns)
}

// HadoopConf writes core-site.xml and hdfs-site.xml into dir, as a
// client's /etc/hadoop would hold them, and returns the two paths joined
// by ":" (the value of alluxio.underfs.hdfs.configuration). With a
// nameservice the files describe an HA nameservice over the namenodes
// (dfs.nameservices, dfs.ha.namenodes.<ns>, dfs.namenode.rpc-address.<ns>.<nn>)
// and fs.defaultFS is hdfs://<nameservice>; without, fs.defaultFS names
// the first namenode. extra properties go into hdfs-site.xml.
func (c *Cluster) HadoopConf(dir, nameservice string, extra map[string]string) (string, error) {
	core := map[string]string{}
	site := map[string]string{"dfs.replication": fmt.Sprint(c.cfg.Replication)}
	if nameservice == "" {
		core["fs.defaultFS"] = "hdfs://" + c.Addr()
	} else {
		core["fs.defaultFS"] = "hdfs://" + nameservice
		site["dfs.nameservices"] = nameservice
		var ids []string
		for i, nn := range c.nns {
			id := fmt.Sprintf("nn%d", i+1)
			ids = append(ids, id)
			site["dfs.namenode.rpc-address."+nameservice+"."+id] = nn.addr()
		}
		site["dfs.ha.namenodes."+nameservice] = strings.Join(ids, ",")
		site["dfs.client.failover.proxy.provider."+nameservice] =
			"org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider"
	}
	for k, v := range extra {
		site[k] = v
	}
	corePath, sitePath := filepath.Join(dir, "core-site.xml"), filepath.Join(dir, "hdfs-site.xml")
	if err := writeXML(corePath, core); err != nil {
		return "", err
	}
	if err := writeXML(sitePath, site); err != nil {
		return "", err
	}
	return corePath + ":" + sitePath, nil
}

// writeXML writes a Hadoop configuration file.
func writeXML(path string, props map[string]string) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  <property>\n    <name>%s</name>\n    <value>%s</value>\n  </property>\n",
			html.EscapeString(k), html.EscapeString(props[k]))
	}
	b.WriteString("</configuration>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// FileStatus describes an entry of the namespace, for tests.
type FileStatus struct {
	Path              string
	Dir               bool
	Size              int64
	Mode              fs.FileMode // permission bits and fs.ModeSticky
	Owner, Group      string
	ModTime           time.Time
	Replication       int
	Blocks            int
	UnderConstruction bool
}

// statusOf describes n.
func statusOf(n *inode) FileStatus {
	mode := fs.FileMode(n.perm & 0o777)
	if n.perm&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return FileStatus{Path: n.path(), Dir: n.dir, Size: int64(n.length()), Mode: mode, Owner: n.owner,
		Group: n.group, ModTime: time.UnixMilli(int64(n.mtime)), Replication: int(n.repl),
		Blocks: len(n.blocks), UnderConstruction: n.holder != ""}
}

// lookup resolves an absolute path of the namespace for the admin calls.
func (c *Cluster) lookup(p string) (*iip, error) {
	ip, rerr := c.ns.resolve(p)
	if rerr != nil {
		return nil, rerr
	}
	return ip, nil
}

// Stat describes the entry at an absolute path, as the superuser sees it.
func (c *Cluster) Stat(p string) (FileStatus, error) {
	c.ns.mu.Lock()
	defer c.ns.mu.Unlock()
	ip, err := c.lookup(p)
	if err != nil {
		return FileStatus{}, err
	}
	if ip.last() == nil {
		return FileStatus{}, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return statusOf(ip.last()), nil
}

// ReadDir lists a directory's entries, sorted.
func (c *Cluster) ReadDir(p string) ([]FileStatus, error) {
	c.ns.mu.Lock()
	defer c.ns.mu.Unlock()
	ip, err := c.lookup(p)
	if err != nil {
		return nil, err
	}
	d := ip.last()
	if d == nil || !d.dir {
		return nil, fmt.Errorf("%s: not a directory: %w", p, fs.ErrNotExist)
	}
	var out []FileStatus
	for _, name := range d.sortedNames() {
		out = append(out, statusOf(d.children[name]))
	}
	return out, nil
}

// MkdirAll makes a directory and its missing parents, owned by owner
// (the superuser when "") with permission perm.
func (c *Cluster) MkdirAll(p, owner string, perm fs.FileMode) error {
	c.ns.mu.Lock()
	defer c.ns.mu.Unlock()
	ip, err := c.lookup(p)
	if err != nil {
		return err
	}
	if owner == "" {
		owner = c.cfg.Superuser
	}
	if n := ip.last(); n != nil {
		if !n.dir {
			return fmt.Errorf("%s is a file: %w", p, fs.ErrExist)
		}
		return nil
	}
	bits := uint32(perm.Perm())
	if perm&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	c.ns.mkdirs(ip, bits, owner)
	return nil
}

// WriteFile puts a complete file into the namespace directly, with its
// blocks stored on the datanodes, as if another HDFS client had written
// it. Missing parents are made. An existing file is replaced.
func (c *Cluster) WriteFile(p string, data []byte, owner string) error {
	ns := c.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ip, err := c.lookup(p)
	if err != nil {
		return err
	}
	if owner == "" {
		owner = c.cfg.Superuser
	}
	if len(ip.comps) == 0 {
		return fmt.Errorf("cannot write the root: %w", fs.ErrInvalid)
	}
	if n := ip.last(); n != nil {
		if n.dir {
			return fmt.Errorf("%s is a directory: %w", p, fs.ErrExist)
		}
		ns.unlink(n)
		ip.nodes[len(ip.nodes)-1] = nil
	}
	pp := &iip{path: ip.parentPath(), comps: ip.comps[:len(ip.comps)-1], nodes: ip.nodes[:len(ip.nodes)-1]}
	parent := ns.mkdirs(pp, 0o755, owner)
	f := ns.newInode(parent, ip.comps[len(ip.comps)-1], false, 0o644, owner)
	f.repl, f.blockSize = uint32(c.cfg.Replication), c.cfg.BlockSize
	live := ns.liveDatanodes()
	if len(live) == 0 && len(data) > 0 {
		return errors.New("no datanode is alive")
	}
	for off := 0; off < len(data); off += int(c.cfg.BlockSize) {
		chunk := data[off:min(len(data), off+int(c.cfg.BlockSize))]
		b := &block{id: ns.nextBlock, gs: ns.genStamp, numBytes: uint64(len(chunk)), committed: true,
			file: f, replicas: map[int]replica{}}
		ns.nextBlock++
		ns.genStamp++
		for k := 0; k < min(len(live), c.cfg.Replication); k++ {
			i := live[(k+ns.nextDN)%len(live)]
			if err := c.dns[i].putReplica(b.id, b.gs, chunk, uint64(c.cfg.BytesPerChecksum)); err != nil {
				return err
			}
			b.replicas[i] = replica{gs: b.gs, length: b.numBytes}
			b.targets = append(b.targets, i)
		}
		ns.nextDN++
		ns.blocks[b.id] = b
		f.blocks = append(f.blocks, b)
	}
	return nil
}

// ReadFile reads a complete file's bytes from the first datanode holding
// each block.
func (c *Cluster) ReadFile(p string) ([]byte, error) {
	c.ns.mu.Lock()
	ip, err := c.lookup(p)
	if err != nil {
		c.ns.mu.Unlock()
		return nil, err
	}
	f := ip.last()
	if f == nil || f.dir {
		c.ns.mu.Unlock()
		return nil, fmt.Errorf("%s: not a file: %w", p, fs.ErrNotExist)
	}
	type part struct {
		id  uint64
		dns []int
	}
	var parts []part
	for _, b := range f.blocks {
		parts = append(parts, part{b.id, b.liveReplicas()})
	}
	c.ns.mu.Unlock()
	var out []byte
	for _, pt := range parts {
		var data []byte
		err := fmt.Errorf("no replica of blk_%d", pt.id)
		for _, i := range pt.dns {
			if data, err = c.dns[i].readAll(pt.id); err == nil {
				break
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, data...)
	}
	return out, nil
}

// Remove deletes an entry and everything under it.
func (c *Cluster) Remove(p string) error {
	c.ns.mu.Lock()
	defer c.ns.mu.Unlock()
	ip, err := c.lookup(p)
	if err != nil {
		return err
	}
	n := ip.last()
	if n == nil {
		return fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	if n == c.ns.root {
		return fmt.Errorf("cannot remove the root: %w", fs.ErrInvalid)
	}
	c.ns.unlink(n)
	return nil
}

// OpenFiles lists the files under construction (holding a lease), by
// path.
func (c *Cluster) OpenFiles() []string {
	c.ns.mu.Lock()
	defer c.ns.mu.Unlock()
	var out []string
	for _, n := range c.ns.byID {
		if !n.dir && n.holder != "" {
			out = append(out, n.path())
		}
	}
	sort.Strings(out)
	return out
}

// SetSafeMode enters or leaves safe mode: while in it, every call that
// changes the namespace answers SafeModeException.
func (c *Cluster) SetSafeMode(on bool) {
	c.ns.mu.Lock()
	defer c.ns.mu.Unlock()
	c.ns.safeMode = on
}

// DelayCompleteNext makes the next n complete calls answer false, as a
// namenode does while the datanodes' block reports are late.
func (c *Cluster) DelayCompleteNext(n int) {
	c.ns.mu.Lock()
	defer c.ns.mu.Unlock()
	c.ns.completeFalse = n
}

// FailNext makes the next n calls of method (any method but renewLease
// when "") answer with the exception class (such as SafeModeException)
// and message, before they are carried out. n = 0 cancels.
func (c *Cluster) FailNext(method string, n int, class, message string) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.fail[method] = nil
	for range n {
		c.faults.fail[method] = append(c.faults.fail[method], &rpcError{class: class, msg: message})
	}
}

// DropNext makes the next n calls of method be carried out and their
// connection dropped before the answer, as when a namenode or the
// network fails at the worst moment.
func (c *Cluster) DropNext(method string, n int) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.drop[method] = n
}

// Calls is how many calls of method the namenodes received.
func (c *Cluster) Calls(method string) int {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	return c.faults.calls[method]
}

// KillDatanode stops datanode i as a crash would: its port refuses
// connections and its open transfers break. The namenode still lists its
// replicas, so readers must fail over to another.
func (c *Cluster) KillDatanode(i int) { c.dns[i].kill() }

// RestartDatanode brings a killed datanode back on its port, with the
// replicas it had.
func (c *Cluster) RestartDatanode(i int) error {
	if c.dns[i].alive() {
		return nil
	}
	return c.dns[i].listen()
}

// CorruptReplica flips a byte of every block of file p on datanode i,
// leaving the stored checksums, so that readers see a checksum error.
func (c *Cluster) CorruptReplica(p string, i int) error {
	c.ns.mu.Lock()
	ip, err := c.lookup(p)
	if err != nil {
		c.ns.mu.Unlock()
		return err
	}
	f := ip.last()
	if f == nil || f.dir {
		c.ns.mu.Unlock()
		return fmt.Errorf("%s: not a file: %w", p, fs.ErrNotExist)
	}
	var ids []uint64
	for _, b := range f.blocks {
		ids = append(ids, b.id)
	}
	c.ns.mu.Unlock()
	for _, id := range ids {
		if err := c.dns[i].corrupt(id); err != nil {
			return err
		}
	}
	return nil
}

// faults are the failures the test asked for and the call counts.
type faults struct {
	mu    sync.Mutex
	fail  map[string][]*rpcError
	drop  map[string]int
	calls map[string]int
}

func (f *faults) init() {
	f.fail, f.drop, f.calls = map[string][]*rpcError{}, map[string]int{}, map[string]int{}
}

// count records a call.
func (f *faults) count(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
}

// takeFailure returns the injected failure for this call, if any.
func (f *faults) takeFailure(method string) *rpcError {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range []string{method, ""} {
		if k == "" && method == "renewLease" {
			continue
		}
		if q := f.fail[k]; len(q) > 0 {
			f.fail[k] = q[1:]
			return q[0]
		}
	}
	return nil
}

// takeDrop reports whether this call's answer is to be dropped.
func (f *faults) takeDrop(method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drop[method] > 0 {
		f.drop[method]--
		return true
	}
	return false
}
