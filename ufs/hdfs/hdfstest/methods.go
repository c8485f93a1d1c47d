package hdfstest

import (
	"math"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// handler serves one ClientNamenodeProtocol method: it gets the decoded
// request and returns the encoded response. It runs with ns.mu held.
type handler func(ns *namespace, c *caller, req fields) (msg, *rpcError)

// methodInfo is a served method: its handler, the fields its request
// must carry (the .proto's required fields), and whether it changes the
// namespace (the standby refuses category WRITE as well as READ).
type methodInfo struct {
	fn       handler
	required []protowire.Number
	write    bool
}

// methods are the ClientNamenodeProtocol calls colinmarc/hdfs makes for
// the operations the under-store uses, plus abandonBlock.
var methods = map[string]methodInfo{
	"getFileInfo":            {getFileInfo, []protowire.Number{1}, false},
	"getListing":             {getListing, []protowire.Number{1, 2, 3}, false},
	"mkdirs":                 {mkdirs, []protowire.Number{1, 2, 3}, true},
	"create":                 {create, []protowire.Number{1, 2, 3, 4, 5, 6, 7}, true},
	"addBlock":               {addBlock, []protowire.Number{1, 2}, true},
	"abandonBlock":           {abandonBlock, []protowire.Number{1, 2, 3}, true},
	"complete":               {complete, []protowire.Number{1, 2}, true},
	"updateBlockForPipeline": {updateBlockForPipeline, []protowire.Number{1, 2}, true},
	"getBlockLocations":      {getBlockLocations, []protowire.Number{1, 2, 3}, false},
	"delete":                 {deleteOp, []protowire.Number{1, 2}, true},
	"rename2":                {rename2, []protowire.Number{1, 2, 3}, true},
	"setPermission":          {setPermission, []protowire.Number{1, 2}, true},
	"setOwner":               {setOwner, []protowire.Number{1}, true},
	"setTimes":               {setTimes, []protowire.Number{1, 2, 3}, true},
	"truncate":               {truncate, []protowire.Number{1, 2, 3}, true},
	"renewLease":             {renewLease, []protowire.Number{1}, true},
	"getServerDefaults":      {getServerDefaults, nil, false},
	"getFsStats":             {getFsStats, nil, false},
}

// status encodes an HdfsFileStatusProto; name is the local name to put
// in path ("" for getFileInfo, as a Java namenode does).
func (ns *namespace) status(n *inode, name string) msg {
	typ := uint64(2) // IS_FILE
	if n.dir {
		typ = 1 // IS_DIR
	}
	m := msg{}.uint(1, typ).str(2, name).uint(3, n.length()).
		sub(4, msg{}.uint(1, uint64(n.perm))).str(5, n.owner).str(6, n.group).
		uint(7, n.mtime).uint(8, n.atime)
	if !n.dir {
		m = m.uint(10, uint64(n.repl)).uint(11, n.blockSize)
	}
	m = m.uint(13, n.id)
	if n.dir {
		m = m.int(14, int64(len(n.children)))
	} else {
		m = m.int(14, 0)
	}
	return m.uint(16, 0).uint(18, 0)
}

// extBlock encodes an ExtendedBlockProto.
func (ns *namespace) extBlock(b *block, gs uint64) msg {
	return msg{}.str(1, ns.poolID).uint(2, b.id).uint(3, gs).uint(4, b.numBytes)
}

// dnInfo encodes the DatanodeInfoProto of datanode i.
func (ns *namespace) dnInfo(i int) msg {
	dn := ns.datanodes[i]
	id := msg{}.str(1, "127.0.0.1").str(2, "localhost").str(3, dn.uuid).
		uint(4, uint64(dn.port)).uint(5, 0).uint(6, 0)
	used := dn.used()
	return msg{}.sub(1, id).uint(2, ns.cfg.Capacity).uint(3, used).uint(4, ns.cfg.Capacity-min(used, ns.cfg.Capacity)).
		uint(5, used).uint(6, nowMillis()).uint(7, 1).str(8, "/default-rack").uint(10, 0)
}

// located encodes a LocatedBlockProto of b at offset with the locations
// dns and an empty block token (security is off).
func (ns *namespace) located(b *block, gs, offset uint64, dns []int) msg {
	m := msg{}.sub(1, ns.extBlock(b, gs)).uint(2, offset)
	for _, i := range dns {
		m = m.sub(3, ns.dnInfo(i))
	}
	m = m.bool(4, false).sub(5, msg{}.bytes(1, nil).bytes(2, nil).str(3, "").str(4, ""))
	if len(dns) > 0 {
		packed := make([]byte, len(dns)) // isCached: false for every location
		m = m.bytes(6, packed)
	}
	for range dns {
		m = m.uint(7, 1) // DISK
	}
	for _, i := range dns {
		m = m.str(8, "DS-"+ns.datanodes[i].uuid)
	}
	return m
}

// locations are the datanodes to read b from: the good replicas, or the
// pipeline while the block is being written.
func (b *block) locations() []int {
	if live := b.liveReplicas(); len(live) > 0 {
		return live
	}
	if !b.committed {
		return b.targets
	}
	return nil
}

// fileOf finds the file of an addBlock, complete or abandonBlock call:
// by inode id when the client gives one, else by path. It checks the
// caller holds the lease.
func (ns *namespace) fileOf(src string, fileID uint64, holder string) (*inode, *rpcError) {
	var f *inode
	if fileID != 0 {
		f = ns.byID[fileID]
	} else if p, err := ns.resolve(src); err == nil {
		f = p.last()
	}
	if f == nil || f.dir {
		return nil, exception(FileNotFoundException, "File does not exist: %s (inode %d) Holder %s does not have any open files.", src, fileID, holder)
	}
	if f.holder == "" {
		return f, exception(LeaseExpiredException, "No lease on %s (inode %d): File is not open for writing. Holder %s does not have any open files.", src, f.id, holder)
	}
	if f.holder != holder {
		return nil, exception(LeaseExpiredException, "Client (=%s) is not the lease owner (=%s)", holder, f.holder)
	}
	return f, nil
}

// blockArg decodes an ExtendedBlockProto argument.
func blockArg(req fields, num protowire.Number) (id, gs, numBytes uint64, ok bool, err *rpcError) {
	if !req.has(num) {
		return 0, 0, 0, false, nil
	}
	b, derr := req.sub(num)
	if derr != nil {
		return 0, 0, 0, false, exception(IOException, "malformed ExtendedBlockProto")
	}
	if e := b.require("ExtendedBlockProto", 1, 2, 3); e != nil {
		return 0, 0, 0, false, exception(IOException, "%v", e)
	}
	return b.uint(2, 0), b.uint(3, 0), b.uint(4, 0), true, nil
}

func getFileInfo(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	p, err := ns.resolve(req.str(1))
	if err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, p); err != nil {
		return nil, err
	}
	n := p.last()
	if n == nil {
		return msg{}, nil
	}
	return msg{}.sub(1, ns.status(n, "")), nil
}

func getListing(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	p, err := ns.resolve(req.str(1))
	if err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, p); err != nil {
		return nil, err
	}
	n := p.last()
	if n == nil {
		return msg{}, nil
	}
	if !n.dir {
		return msg{}.sub(1, msg{}.sub(1, ns.status(n, "")).uint(2, 0)), nil
	}
	if err := ns.checkAccess(c, p, n, actReadExecute); err != nil {
		return nil, err
	}
	names := n.sortedNames()
	after := req.str(2)
	start := sort.Search(len(names), func(i int) bool { return nameOrder(names[i], after) >= 0 })
	if start < len(names) && after != "" && names[start] == after {
		start++
	}
	end := min(len(names), start+ns.cfg.ListLimit)
	list := msg{}
	for _, name := range names[start:end] {
		list = list.sub(1, ns.status(n.children[name], name))
	}
	list = list.uint(2, uint64(len(names)-end))
	return msg{}.sub(1, list), nil
}

func mkdirs(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src := req.str(1)
	if err := ns.checkSafeMode("create directory " + src); err != nil {
		return nil, err
	}
	p, err := ns.resolve(src)
	if err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, p); err != nil {
		return nil, err
	}
	if n := p.last(); n != nil {
		if !n.dir {
			return nil, exception(FileAlreadyExistsException, "Path is not a directory: %s", src)
		}
		return msg{}.bool(1, true), nil
	}
	if err := ns.checkAncestorWrite(c, p); err != nil {
		return nil, err
	}
	if !req.bool(3, false) {
		parent := p.parent()
		if parent == nil {
			return nil, exception(FileNotFoundException, "Parent directory doesn't exist: %s", p.parentPath())
		}
	}
	masked, _ := req.sub(2)
	ns.mkdirs(p, uint32(masked.uint(1, 0o755))&0o1777, c.user)
	return msg{}.bool(1, true), nil
}

// Create flags of CreateRequestProto.createFlag.
const (
	flagCreate    = 0x01
	flagOverwrite = 0x02
	flagAppend    = 0x04
)

func create(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src, client := req.str(1), req.str(3)
	if err := ns.checkSafeMode("create file" + src); err != nil {
		return nil, err
	}
	p, err := ns.resolve(src)
	if err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, p); err != nil {
		return nil, err
	}
	flags := req.uint(4, 0)
	repl, blockSize := req.uint(6, 0), req.uint(7, 0)
	switch {
	case flags&flagAppend != 0:
		return nil, exception(IOException, "append is not supported by this test namenode: %s", src)
	case blockSize < ns.cfg.MinBlockSize:
		return nil, exception(IOException, "Specified block size is less than configured minimum value (dfs.namenode.fs-limits.min-block-size): %d < %d", blockSize, ns.cfg.MinBlockSize)
	case blockSize%uint64(ns.cfg.BytesPerChecksum) != 0:
		return nil, exception(IOException, "io.bytes.per.checksum(%d) and blockSize(%d) do not match. blockSize should be a multiple of io.bytes.per.checksum", ns.cfg.BytesPerChecksum, blockSize)
	case repl < 1:
		return nil, exception(IOException, "Requested replication factor of %d is less than the required minimum of 1 for %s", repl, src)
	case repl > 512:
		return nil, exception(IOException, "Requested replication factor of %d exceeds maximum of 512 for %s", repl, src)
	}
	if n := p.last(); n != nil {
		if n.dir {
			return nil, exception(FileAlreadyExistsException, "%s already exists as a directory", src)
		}
		if n.holder != "" {
			return nil, exception(AlreadyBeingCreatedException, "Failed to CREATE_FILE %s for %s on 127.0.0.1 because this file lease is currently owned by %s on 127.0.0.1", src, client, n.holder)
		}
		if flags&flagOverwrite == 0 {
			return nil, exception(FileAlreadyExistsException, "%s for client 127.0.0.1 already exists", src)
		}
		if err := ns.checkAccess(c, p, n, actWrite); err != nil {
			return nil, err
		}
		ns.unlink(n)
		p.nodes[len(p.nodes)-1] = nil
	}
	if err := ns.checkAncestorWrite(c, p); err != nil {
		return nil, err
	}
	parent := p.parent()
	if parent == nil {
		if !req.bool(5, false) {
			return nil, exception(FileNotFoundException, "Parent directory doesn't exist: %s", p.parentPath())
		}
		pp := &iip{path: p.parentPath(), comps: p.comps[:len(p.comps)-1], nodes: p.nodes[:len(p.nodes)-1]}
		parent = ns.mkdirs(pp, 0o755, c.user)
	}
	if len(p.comps) == 0 {
		return nil, exception(FileAlreadyExistsException, "/ already exists as a directory")
	}
	masked, _ := req.sub(2)
	f := ns.newInode(parent, p.comps[len(p.comps)-1], false, uint32(masked.uint(1, 0o644))&0o777, c.user)
	f.repl, f.blockSize, f.holder = uint32(repl), blockSize, client
	return msg{}.sub(1, ns.status(f, "")), nil
}

func addBlock(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src, client := req.str(1), req.str(2)
	if err := ns.checkSafeMode("add block to " + src); err != nil {
		return nil, err
	}
	f, err := ns.fileOf(src, req.uint(5, 0), client)
	if err != nil {
		return nil, err
	}
	prevID, prevGS, prevLen, hasPrev, err := blockArg(req, 3)
	if err != nil {
		return nil, err
	}
	if n := len(f.blocks); n > 0 {
		last := f.blocks[n-1]
		if !last.committed && (!hasPrev && n == 1 || hasPrev && n > 1 && f.blocks[n-2].id == prevID) {
			// A retried addBlock: the block was allocated, its answer lost.
			return msg{}.sub(1, ns.located(last, last.gs, f.length(), last.targets)), nil
		}
		if !hasPrev || prevID != last.id {
			return nil, exception(IOException, "Cannot allocate block in %s: previous block %d does not match the last block blk_%d of the file", src, prevID, last.id)
		}
		if prevGS != last.gs {
			return nil, exception(IOException, "Commit block with mismatching GS. NN has blk_%d_%d, client submits blk_%d_%d", last.id, last.gs, prevID, prevGS)
		}
		last.numBytes, last.committed = prevLen, true
		if !last.complete() {
			return nil, exception(NotReplicatedYetException, "Not replicated yet: %s", src)
		}
	} else if hasPrev {
		return nil, exception(IOException, "Cannot allocate block in %s: the file has no block, the client names blk_%d", src, prevID)
	}
	offset := f.length()
	excluded := map[string]bool{}
	if ex, derr := req.subs(4); derr == nil {
		for _, e := range ex {
			id, _ := e.sub(1)
			excluded[id.str(3)] = true
		}
	}
	live := ns.liveDatanodes()
	var cands []int
	for k := range live {
		i := live[(k+ns.nextDN)%len(live)]
		if !excluded[ns.datanodes[i].uuid] {
			cands = append(cands, i)
		}
	}
	ns.nextDN++
	if len(cands) == 0 {
		return nil, exception(IOException, "File %s could only be written to 0 of the 1 minReplication nodes. There are %d datanode(s) running and %d node(s) are excluded in this operation.",
			src, len(live), len(excluded))
	}
	targets := cands[:min(len(cands), int(f.repl))]
	b := &block{id: ns.nextBlock, gs: ns.genStamp, file: f, targets: targets}
	ns.nextBlock++
	ns.genStamp++
	ns.blocks[b.id] = b
	f.blocks = append(f.blocks, b)
	return msg{}.sub(1, ns.located(b, b.gs, offset, targets)), nil
}

func abandonBlock(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src, holder := req.str(2), req.str(3)
	if err := ns.checkSafeMode("abandon block in " + src); err != nil {
		return nil, err
	}
	f, err := ns.fileOf(src, req.uint(4, 0), holder)
	if err != nil {
		return nil, err
	}
	id, _, _, _, err := blockArg(req, 1)
	if err != nil {
		return nil, err
	}
	if n := len(f.blocks); n > 0 && f.blocks[n-1].id == id {
		delete(ns.blocks, id)
		f.blocks = f.blocks[:n-1]
		for _, dn := range ns.datanodes {
			dn.deleteReplicas([]uint64{id})
		}
	}
	return msg{}, nil
}

func complete(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src, client := req.str(1), req.str(2)
	if err := ns.checkSafeMode("complete file " + src); err != nil {
		return nil, err
	}
	lastID, lastGS, lastLen, hasLast, err := blockArg(req, 3)
	if err != nil {
		return nil, err
	}
	f, err := ns.fileOf(src, req.uint(4, 0), client)
	if err != nil {
		if f != nil && err.class == LeaseExpiredException && len(f.blocks) > 0 && hasLast &&
			f.blocks[len(f.blocks)-1].id == lastID && f.blocks[len(f.blocks)-1].gs == lastGS {
			return msg{}.bool(1, true), nil // a retry of a complete that succeeded
		}
		if f != nil && err.class == LeaseExpiredException && len(f.blocks) == 0 && !hasLast {
			return msg{}.bool(1, true), nil
		}
		return nil, err
	}
	if hasLast {
		n := len(f.blocks)
		if n == 0 || f.blocks[n-1].id != lastID {
			return nil, exception(IOException, "Trying to commit block blk_%d_%d of %s, which is not the last block of the file", lastID, lastGS, src)
		}
		last := f.blocks[n-1]
		if last.gs != lastGS {
			return nil, exception(IOException, "Commit block with mismatching GS. NN has blk_%d_%d, client submits blk_%d_%d", last.id, last.gs, lastID, lastGS)
		}
		last.numBytes, last.committed = lastLen, true
	}
	for _, b := range f.blocks {
		if !b.complete() {
			return msg{}.bool(1, false), nil
		}
	}
	if ns.completeFalse > 0 {
		ns.completeFalse--
		return msg{}.bool(1, false), nil
	}
	f.holder = ""
	f.mtime = nowMillis()
	return msg{}.bool(1, true), nil
}

func updateBlockForPipeline(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	client := req.str(2)
	if err := ns.checkSafeMode("get a new generation stamp and an access token for block"); err != nil {
		return nil, err
	}
	id, _, _, _, err := blockArg(req, 1)
	if err != nil {
		return nil, err
	}
	b := ns.blocks[id]
	if b == nil {
		return nil, exception(IOException, "%s:blk_%d does not exist.", ns.poolID, id)
	}
	if b.file.holder == "" {
		return nil, exception(IOException, "%s is not under Construction", b.file.path())
	}
	if b.file.holder != client {
		return nil, exception(LeaseExpiredException, "Client (=%s) is not the lease owner (=%s)", client, b.file.holder)
	}
	// A new generation stamp for pipeline recovery; the stored block
	// keeps its own until updatePipeline, as in HDFS.
	gs := ns.genStamp
	ns.genStamp++
	var offset uint64
	for _, fb := range b.file.blocks {
		if fb == b {
			break
		}
		offset += fb.numBytes
	}
	return msg{}.sub(1, ns.located(b, gs, offset, b.targets)), nil
}

func getBlockLocations(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src := req.str(1)
	p, err := ns.resolve(src)
	if err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, p); err != nil {
		return nil, err
	}
	f := p.last()
	if f == nil {
		return nil, exception(FileNotFoundException, "File does not exist: %s", src)
	}
	if f.dir {
		return nil, exception(FileNotFoundException, "Path is not a file: %s", src)
	}
	if err := ns.checkAccess(c, p, f, actRead); err != nil {
		return nil, err
	}
	offset, length := req.uint(2, 0), req.uint(3, 0)
	if int64(offset) < 0 {
		return nil, exception(IllegalArgumentException, "Negative offset is not supported. File: %s", src)
	}
	if int64(length) < 0 {
		return nil, exception(IllegalArgumentException, "Negative length is not supported. File: %s", src)
	}
	end := offset + length
	if end < offset {
		end = math.MaxUint64
	}
	lb := msg{}.uint(1, f.length())
	var pos uint64
	var lastMsg msg
	for i, b := range f.blocks {
		bm := ns.located(b, b.gs, pos, b.locations())
		if pos < end && pos+b.numBytes > offset {
			lb = lb.sub(2, bm)
		}
		if i == len(f.blocks)-1 {
			lastMsg = bm
		}
		pos += b.numBytes
	}
	uc := f.holder != ""
	lb = lb.bool(3, uc)
	if lastMsg != nil {
		lb = lb.sub(4, lastMsg)
	}
	lb = lb.bool(5, len(f.blocks) == 0 || f.blocks[len(f.blocks)-1].complete())
	return msg{}.sub(1, lb), nil
}

func deleteOp(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src := req.str(1)
	if err := ns.checkSafeMode("delete " + src); err != nil {
		return nil, err
	}
	p, err := ns.resolve(src)
	if err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, p); err != nil {
		return nil, err
	}
	n := p.last()
	if n == nil || n == ns.root {
		return msg{}.bool(1, false), nil
	}
	if err := ns.checkParentWrite(c, p); err != nil {
		return nil, err
	}
	if n.dir && len(n.children) > 0 && !req.bool(2, false) {
		return nil, exception(PathIsNotEmptyDirException, "`%s is non empty': Directory is not empty", src)
	}
	ns.unlink(n)
	return msg{}.bool(1, true), nil
}

func rename2(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src, dst, overwrite := req.str(1), req.str(2), req.bool(3, false)
	if err := ns.checkSafeMode("rename " + src + " to " + dst); err != nil {
		return nil, err
	}
	sp, err := ns.resolve(src)
	if err != nil {
		return nil, err
	}
	dp, err := ns.resolve(dst)
	if err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, sp); err != nil {
		return nil, err
	}
	if err := ns.checkTraverse(c, dp); err != nil {
		return nil, err
	}
	if err := ns.checkParentWrite(c, sp); err != nil {
		return nil, err
	}
	if err := ns.checkAncestorWrite(c, dp); err != nil {
		return nil, err
	}
	src, dst = sp.path, dp.path
	sn := sp.last()
	if sn == nil {
		return nil, exception(FileNotFoundException, "rename source %s is not found.", src)
	}
	if sn == ns.root {
		return nil, exception(IOException, "rename source cannot be the root")
	}
	if dst == src {
		return nil, exception(FileAlreadyExistsException, "The source %s and destination %s are the same", src, dst)
	}
	if strings.HasPrefix(dst, src+"/") {
		return nil, exception(IOException, "Rename destination %s is a directory or file under source %s", dst, src)
	}
	if dp.last() == ns.root {
		return nil, exception(IOException, "rename destination cannot be the root")
	}
	dn := dp.last()
	if dn != nil {
		if dn.dir != sn.dir {
			return nil, exception(IOException, "Source %s and destination %s must both be directories", src, dst)
		}
		if !overwrite {
			return nil, exception(FileAlreadyExistsException, "rename destination %s already exists", dst)
		}
		if dn.dir && len(dn.children) > 0 {
			return nil, exception(IOException, "rename destination directory is not empty: %s", dst)
		}
	}
	parent := dp.parent()
	if parent == nil {
		return nil, exception(FileNotFoundException, "rename destination parent %s not found.", dst)
	}
	if !parent.dir {
		return nil, exception(ParentNotDirectoryException, "rename destination parent %s is a file.", dst)
	}
	if dn != nil {
		ns.unlink(dn)
	}
	now := nowMillis()
	delete(sn.parent.children, sn.name)
	sn.parent.mtime = now
	sn.parent, sn.name = parent, dp.comps[len(dp.comps)-1]
	parent.children[sn.name] = sn
	parent.mtime = now
	return msg{}, nil
}

func setPermission(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src := req.str(1)
	if err := ns.checkSafeMode("set permission for " + src); err != nil {
		return nil, err
	}
	p, n, err := ns.existing(c, src)
	if err != nil {
		return nil, err
	}
	if !c.super && ns.cfg.permissions() && c.user != n.owner {
		return nil, exception(AccessControlException, "Permission denied. user=%s is not the owner of inode=%s", c.user, p.path)
	}
	perm, _ := req.sub(2)
	n.perm = uint32(perm.uint(1, 0)) & 0o1777
	return msg{}, nil
}

func setOwner(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src := req.str(1)
	if err := ns.checkSafeMode("set owner for " + src); err != nil {
		return nil, err
	}
	p, n, err := ns.existing(c, src)
	if err != nil {
		return nil, err
	}
	// colinmarc/hdfs sends "" for a name it leaves unchanged.
	user, group := req.str(2), req.str(3)
	if ns.cfg.permissions() && !c.super {
		if c.user != n.owner {
			return nil, exception(AccessControlException, "Permission denied. user=%s is not the owner of inode=%s", c.user, p.path)
		}
		if user != "" && user != c.user {
			return nil, exception(AccessControlException, "User %s is not a super user (non-super user cannot change owner).", c.user)
		}
		if group != "" && !c.inGroup(group) {
			return nil, exception(AccessControlException, "User %s does not belong to %s", c.user, group)
		}
	}
	if user != "" {
		n.owner = user
	}
	if group != "" {
		n.group = group
	}
	return msg{}, nil
}

func setTimes(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src := req.str(1)
	if err := ns.checkSafeMode("set times " + src); err != nil {
		return nil, err
	}
	p, n, err := ns.existing(c, src)
	if err != nil {
		return nil, err
	}
	if err := ns.checkAccess(c, p, n, actWrite); err != nil {
		return nil, err
	}
	if mt := req.uint(2, 0); int64(mt) != -1 {
		n.mtime = mt
	}
	if at := req.uint(3, 0); int64(at) != -1 {
		n.atime = at
	}
	return msg{}, nil
}

func truncate(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	src, client, newLen := req.str(1), req.str(3), req.uint(2, 0)
	if err := ns.checkSafeMode("truncate " + src); err != nil {
		return nil, err
	}
	p, f, err := ns.existing(c, src)
	if err != nil {
		return nil, err
	}
	if f.dir {
		return nil, exception(FileNotFoundException, "Path is not a file: %s", src)
	}
	if err := ns.checkAccess(c, p, f, actWrite); err != nil {
		return nil, err
	}
	if f.holder != "" {
		return nil, exception(AlreadyBeingCreatedException, "Failed to TRUNCATE_FILE %s for %s on 127.0.0.1 because this file lease is currently owned by %s on 127.0.0.1", src, client, f.holder)
	}
	old := f.length()
	if newLen > old {
		return nil, exception(IllegalArgumentException, "Cannot truncate to a larger file size. Current size: %d, truncate size: %d.", old, newLen)
	}
	if newLen == old {
		return msg{}.bool(1, true), nil
	}
	var pos uint64
	keep := 0
	onBoundary := true
	for i, b := range f.blocks {
		if pos >= newLen {
			break
		}
		keep = i + 1
		if pos+b.numBytes > newLen {
			// Cut this block: the "block recovery" a real namenode starts,
			// done at once with a new generation stamp.
			onBoundary = false
			gs := ns.genStamp
			ns.genStamp++
			b.numBytes, b.gs = newLen-pos, gs
			for dn := range b.replicas {
				if err := ns.datanodes[dn].truncateReplica(b.id, b.numBytes, gs); err == nil {
					b.replicas[dn] = replica{gs: gs, length: b.numBytes}
				} else {
					delete(b.replicas, dn)
				}
			}
		}
		pos += b.numBytes
	}
	var drop []uint64
	for _, b := range f.blocks[keep:] {
		drop = append(drop, b.id)
		delete(ns.blocks, b.id)
	}
	for _, dn := range ns.datanodes {
		dn.deleteReplicas(drop)
	}
	f.blocks = f.blocks[:keep]
	f.mtime = nowMillis()
	return msg{}.bool(1, onBoundary), nil
}

func renewLease(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	client := req.str(1)
	if err := ns.checkSafeMode("renew lease for " + client); err != nil {
		return nil, err
	}
	return msg{}, nil
}

func getServerDefaults(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	d := msg{}.uint(1, ns.cfg.BlockSize).uint(2, uint64(ns.cfg.BytesPerChecksum)).uint(3, 65536).
		uint(4, uint64(ns.cfg.Replication)).uint(5, 4096).bool(6, false).uint(7, 0).uint(8, 2).str(9, "").uint(10, 0)
	return msg{}.sub(1, d), nil
}

func getFsStats(ns *namespace, c *caller, req fields) (msg, *rpcError) {
	var capacity, used uint64
	for _, dn := range ns.datanodes {
		capacity += ns.cfg.Capacity
		used += dn.used()
	}
	return msg{}.uint(1, capacity).uint(2, used).uint(3, capacity-min(used, capacity)).
		uint(4, 0).uint(5, 0).uint(6, 0).uint(7, 0).uint(8, 0).uint(9, 0), nil
}

// existing resolves a path that must exist, after the traverse check.
func (ns *namespace) existing(c *caller, src string) (*iip, *inode, *rpcError) {
	p, err := ns.resolve(src)
	if err != nil {
		return nil, nil, err
	}
	if err := ns.checkTraverse(c, p); err != nil {
		return nil, nil, err
	}
	n := p.last()
	if n == nil {
		return nil, nil, exception(FileNotFoundException, "File does not exist: %s", src)
	}
	return p, n, nil
}
