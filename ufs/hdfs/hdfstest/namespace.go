package hdfstest

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Exception classes the namenode answers with, as a Java namenode names
// them in RpcResponseHeaderProto.exceptionClassName. FailNext takes them.
const (
	IOException                  = "java.io.IOException"
	FileNotFoundException        = "java.io.FileNotFoundException"
	FileAlreadyExistsException   = "org.apache.hadoop.fs.FileAlreadyExistsException"
	ParentNotDirectoryException  = "org.apache.hadoop.fs.ParentNotDirectoryException"
	PathIsNotEmptyDirException   = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
	InvalidPathException         = "org.apache.hadoop.fs.InvalidPathException"
	AccessControlException       = "org.apache.hadoop.security.AccessControlException"
	SafeModeException            = "org.apache.hadoop.hdfs.server.namenode.SafeModeException"
	StandbyException             = "org.apache.hadoop.ipc.StandbyException"
	RetriableException           = "org.apache.hadoop.ipc.RetriableException"
	LeaseExpiredException        = "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException"
	NotReplicatedYetException    = "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException"
	AlreadyBeingCreatedException = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	DSQuotaExceededException     = "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException"
	IllegalArgumentException     = "org.apache.hadoop.HadoopIllegalArgumentException"
	NoSuchMethodException        = "org.apache.hadoop.ipc.RpcNoSuchMethodException"
	NoSuchProtocolException      = "org.apache.hadoop.ipc.RpcNoSuchProtocolException"
)

// rpcError is an exception a namenode call answers with.
type rpcError struct {
	class string
	msg   string
	code  uint64 // RpcErrorCodeProto; 0 means ERROR_APPLICATION
}

func (e *rpcError) Error() string { return e.class + ": " + e.msg }

// exception builds an rpcError with a formatted message.
func exception(class, format string, args ...any) *rpcError {
	return &rpcError{class: class, msg: fmt.Sprintf(format, args...)}
}

// inode is a file or directory of the namespace.
type inode struct {
	id       uint64
	name     string
	parent   *inode
	dir      bool
	children map[string]*inode // directories only

	perm         uint32 // permission bits with the sticky bit (01000)
	owner, group string
	mtime, atime uint64 // milliseconds since the epoch

	// Files only.
	blocks    []*block
	repl      uint32
	blockSize uint64
	holder    string // the lease holder (client name) while under construction
}

// length is the file's length as the namenode knows it: the committed
// blocks.
func (n *inode) length() uint64 {
	var l uint64
	for _, b := range n.blocks {
		l += b.numBytes
	}
	return l
}

// path is the absolute path of n.
func (n *inode) path() string {
	if n.parent == nil {
		return "/"
	}
	var els []string
	for m := n; m.parent != nil; m = m.parent {
		els = append(els, m.name)
	}
	for i, j := 0, len(els)-1; i < j; i, j = i+1, j-1 {
		els[i], els[j] = els[j], els[i]
	}
	return "/" + strings.Join(els, "/")
}

// sortedNames are the names of a directory's children in HDFS's order
// (DFSUtilClient.compareBytes: bytes compared as signed values).
func (n *inode) sortedNames() []string {
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return nameOrder(names[i], names[j]) < 0 })
	return names
}

// nameOrder compares names as the namenode does: bytes as signed values.
func nameOrder(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if x, y := int8(a[i]), int8(b[i]); x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// block is one block of a file.
type block struct {
	id, gs    uint64
	numBytes  uint64 // as committed by the client (0 until then)
	committed bool
	file      *inode
	targets   []int           // datanodes chosen when the block was allocated
	replicas  map[int]replica // finalized replicas the datanodes reported
}

// replica is what a datanode reported of a block it holds.
type replica struct {
	gs, length uint64
}

// complete reports whether the block is committed and one datanode holds
// a replica of exactly the committed length and generation.
func (b *block) complete() bool {
	return b.committed && len(b.liveReplicas()) > 0
}

// liveReplicas lists the datanodes holding a good replica, in datanode
// order.
func (b *block) liveReplicas() []int {
	var out []int
	for dn, r := range b.replicas {
		if r.gs == b.gs && (!b.committed || r.length == b.numBytes) {
			out = append(out, dn)
		}
	}
	sort.Ints(out)
	return out
}

// caller is the user of a namenode connection.
type caller struct {
	user   string
	groups []string
	super  bool
}

// inGroup reports whether the caller belongs to group.
func (c *caller) inGroup(group string) bool {
	for _, g := range c.groups {
		if g == group {
			return true
		}
	}
	return false
}

// namespace is the state the namenodes share: the inode tree, the
// blocks, safe mode. One mutex guards it all.
type namespace struct {
	mu sync.Mutex

	cfg       Config
	root      *inode
	byID      map[uint64]*inode
	blocks    map[uint64]*block
	nextInode uint64
	nextBlock uint64
	genStamp  uint64
	poolID    string
	safeMode  bool
	// completeFalse is how many complete calls still answer false (a
	// fault the test asked for).
	completeFalse int
	nextDN        int // round robin start for block targets
	datanodes     []*datanode
}

// newNamespace makes an empty namespace whose root belongs to the
// superuser, 0755 as a freshly formatted HDFS.
func newNamespace(cfg Config) *namespace {
	now := nowMillis()
	ns := &namespace{
		cfg:       cfg,
		byID:      map[uint64]*inode{},
		blocks:    map[uint64]*block{},
		nextInode: 16386, // HDFS numbers inodes from 16385, the root
		nextBlock: 1073741825,
		genStamp:  1001,
		poolID:    fmt.Sprintf("BP-%d-127.0.0.1-%d", 1000+time.Now().UnixNano()%9000, now),
	}
	ns.root = &inode{id: 16385, dir: true, children: map[string]*inode{}, perm: cfg.RootMode,
		owner: cfg.Superuser, group: cfg.Supergroup, mtime: now, atime: now}
	ns.byID[ns.root.id] = ns.root
	return ns
}

func nowMillis() uint64 { return uint64(time.Now().UnixMilli()) }

// callerFor describes a connection's user with the groups of the
// configuration.
func (ns *namespace) callerFor(user string) *caller {
	groups := ns.cfg.Groups[user]
	if groups == nil {
		groups = []string{user}
	}
	c := &caller{user: user, groups: groups}
	c.super = user == ns.cfg.Superuser || c.inGroup(ns.cfg.Supergroup)
	return c
}

// iip is a resolved path: the inodes from the root along the path's
// components, nil from the first one that does not exist.
type iip struct {
	path  string
	comps []string
	nodes []*inode // nodes[0] is the root; nodes[i] is comps[i-1]
}

// last is the inode the path names, nil when it does not exist.
func (p *iip) last() *inode { return p.nodes[len(p.nodes)-1] }

// parent is the inode of the path's parent directory (nil when missing).
func (p *iip) parent() *inode {
	if len(p.nodes) < 2 {
		return nil
	}
	return p.nodes[len(p.nodes)-2]
}

// parentPath is the path of the parent directory.
func (p *iip) parentPath() string {
	if len(p.comps) <= 1 {
		return "/"
	}
	return "/" + strings.Join(p.comps[:len(p.comps)-1], "/")
}

// prefix is the path of the first i components.
func (p *iip) prefix(i int) string {
	if i == 0 {
		return "/"
	}
	return "/" + strings.Join(p.comps[:i], "/")
}

// resolve checks and walks an absolute path as HDFS does: it must start
// with "/" and no component may be "." or ".." or hold ":". A component
// under a file is reported as ParentNotDirectoryException.
func (ns *namespace) resolve(src string) (*iip, *rpcError) {
	if !strings.HasPrefix(src, "/") {
		return nil, exception(InvalidPathException, "Invalid path name Path is not absolute: %s", src)
	}
	var comps []string
	for _, c := range strings.Split(src, "/") {
		if c == "" {
			continue
		}
		if c == "." || c == ".." || strings.Contains(c, ":") {
			return nil, exception(InvalidPathException, "Invalid path name Invalid file name: %s", src)
		}
		comps = append(comps, c)
	}
	p := &iip{path: "/" + strings.Join(comps, "/"), comps: comps, nodes: make([]*inode, len(comps)+1)}
	p.nodes[0] = ns.root
	for i, c := range comps {
		cur := p.nodes[i]
		if cur == nil {
			break
		}
		if !cur.dir {
			return nil, exception(ParentNotDirectoryException, "%s (is not a directory)", p.prefix(i))
		}
		p.nodes[i+1] = cur.children[c]
	}
	return p, nil
}

// fsAction is a requested access, as Hadoop's FsAction.
type fsAction uint32

const (
	actExecute     fsAction = 1
	actWrite       fsAction = 2
	actRead        fsAction = 4
	actReadExecute          = actRead | actExecute
	actAll                  = actRead | actWrite | actExecute
)

func (a fsAction) String() string {
	return map[fsAction]string{actExecute: "EXECUTE", actWrite: "WRITE", actRead: "READ",
		actReadExecute: "READ_EXECUTE", actAll: "ALL", actRead | actWrite: "READ_WRITE",
		actWrite | actExecute: "WRITE_EXECUTE"}[a]
}

// permString renders permission bits as "rwxr-xr-x", with t or T for the
// sticky bit, as HDFS's FsPermission does.
func permString(perm uint32) string {
	const rwx = "rwxrwxrwx"
	b := []byte("---------")
	for i := 0; i < 9; i++ {
		if perm&(1<<(8-i)) != 0 {
			b[i] = rwx[i]
		}
	}
	if perm&0o1000 != 0 {
		if b[8] == 'x' {
			b[8] = 't'
		} else {
			b[8] = 'T'
		}
	}
	return string(b)
}

// allowed reports whether c may access n with a.
func (ns *namespace) allowed(c *caller, n *inode, a fsAction) bool {
	if c.super || !ns.cfg.permissions() {
		return true
	}
	var bits uint32
	switch {
	case c.user == n.owner:
		bits = n.perm >> 6 & 7
	case c.inGroup(n.group):
		bits = n.perm >> 3 & 7
	default:
		bits = n.perm & 7
	}
	return fsAction(bits)&a == a
}

// denied is HDFS's AccessControlException for c and n.
func denied(c *caller, n *inode, path string, a fsAction) *rpcError {
	d := "-"
	if n.dir {
		d = "d"
	}
	return exception(AccessControlException, "Permission denied: user=%s, access=%s, inode=\"%s\":%s:%s:%s%s",
		c.user, a, path, n.owner, n.group, d, permString(n.perm))
}

// checkTraverse needs execute permission on every existing directory
// above the path's last component.
func (ns *namespace) checkTraverse(c *caller, p *iip) *rpcError {
	for i := 0; i < len(p.nodes)-1 && p.nodes[i] != nil; i++ {
		if !ns.allowed(c, p.nodes[i], actExecute) {
			return denied(c, p.nodes[i], p.prefix(i), actExecute)
		}
	}
	return nil
}

// checkAccess needs a on the path's inode n.
func (ns *namespace) checkAccess(c *caller, p *iip, n *inode, a fsAction) *rpcError {
	if !ns.allowed(c, n, a) {
		return denied(c, n, p.path, a)
	}
	return nil
}

// checkParentWrite needs write permission on the path's parent, and with
// the sticky bit, ownership of the parent or the entry.
func (ns *namespace) checkParentWrite(c *caller, p *iip) *rpcError {
	parent := p.parent()
	if parent == nil {
		return nil
	}
	if !ns.allowed(c, parent, actWrite) {
		return denied(c, parent, p.parentPath(), actWrite)
	}
	if last := p.last(); last != nil && parent.perm&0o1000 != 0 && ns.cfg.permissions() && !c.super &&
		c.user != parent.owner && c.user != last.owner {
		return exception(AccessControlException, "Permission denied by sticky bit: user=%s, path=\"%s\":%s:%s:%s%s, parent=\"%s\":%s:%s:d%s",
			c.user, p.path, last.owner, last.group, map[bool]string{true: "d", false: "-"}[last.dir], permString(last.perm),
			p.parentPath(), parent.owner, parent.group, permString(parent.perm))
	}
	return nil
}

// checkAncestorWrite needs write permission on the nearest existing
// ancestor of the path's last component.
func (ns *namespace) checkAncestorWrite(c *caller, p *iip) *rpcError {
	i := len(p.nodes) - 2
	for i > 0 && p.nodes[i] == nil {
		i--
	}
	if !ns.allowed(c, p.nodes[i], actWrite) {
		return denied(c, p.nodes[i], p.prefix(i), actWrite)
	}
	return nil
}

// checkSafeMode refuses a change while the namenode is in safe mode.
func (ns *namespace) checkSafeMode(what string) *rpcError {
	if ns.safeMode {
		return exception(SafeModeException, "Cannot %s. Name node is in safe mode.\n"+
			"Safe mode is ON. It was turned on manually. Use \"hdfs dfsadmin -safemode leave\" to turn safe mode off.", what)
	}
	return nil
}

// newInode links a new entry under parent.
func (ns *namespace) newInode(parent *inode, name string, dir bool, perm uint32, owner string) *inode {
	now := nowMillis()
	n := &inode{id: ns.nextInode, name: name, parent: parent, dir: dir, perm: perm, owner: owner,
		group: parent.group, mtime: now, atime: now}
	ns.nextInode++
	if dir {
		n.children = map[string]*inode{}
	}
	parent.children[name] = n
	parent.mtime = now
	ns.byID[n.id] = n
	return n
}

// unlink removes n and everything under it, and drops their blocks from
// the datanodes.
func (ns *namespace) unlink(n *inode) {
	delete(n.parent.children, n.name)
	n.parent.mtime = nowMillis()
	var drop []uint64
	var walk func(m *inode)
	walk = func(m *inode) {
		delete(ns.byID, m.id)
		for _, b := range m.blocks {
			drop = append(drop, b.id)
			delete(ns.blocks, b.id)
		}
		for _, c := range m.children {
			walk(c)
		}
	}
	walk(n)
	for _, dn := range ns.datanodes {
		dn.deleteReplicas(drop)
	}
}

// mkdirs creates the missing directories of p, parents with u+wx added
// as HDFS does, and returns the last.
func (ns *namespace) mkdirs(p *iip, perm uint32, owner string) *inode {
	for i := 1; i < len(p.nodes); i++ {
		if p.nodes[i] != nil {
			continue
		}
		mode := perm
		if i < len(p.nodes)-1 {
			mode |= 0o300
		}
		p.nodes[i] = ns.newInode(p.nodes[i-1], p.comps[i-1], true, mode, owner)
	}
	return p.last()
}

// liveDatanodes lists the datanodes that are up, in order.
func (ns *namespace) liveDatanodes() []int {
	var out []int
	for i, dn := range ns.datanodes {
		if dn.alive() {
			out = append(out, i)
		}
	}
	return out
}

// blockReceived records a finalized replica a datanode reports.
func (ns *namespace) blockReceived(dn int, id, gs, length uint64) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	b := ns.blocks[id]
	if b == nil {
		return
	}
	if b.replicas == nil {
		b.replicas = map[int]replica{}
	}
	b.replicas[dn] = replica{gs: gs, length: length}
}

// knownBlock reports whether the block exists with that generation stamp
// (or an older one the client still writes with).
func (ns *namespace) knownBlock(id, gs uint64) bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	b := ns.blocks[id]
	return b != nil && gs <= b.gs
}
