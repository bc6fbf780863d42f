// Mount-time repair (the volume dirty flag, see fat16.h / repair.cpp):
//   * power cut + one more mount: for EVERY prefix of the recorded writes of a
//     write-temp / fsync / rename sequence, mounting the cut image repairs it,
//     and after fat16_sync `fsck.fat -n` is completely clean (exit 0) and the
//     state file is old or new;
//   * a cut DURING the repair leaves a state that fsck calls leak-only and
//     that the next mount repairs to clean;
//   * crafted damage: a lost chain, an over-long file chain, FAT copies that
//     differ; damage the repair must not touch (a cross-link) is left alone;
//   * a clean volume is mounted without a single write.
#include <gtest/gtest.h>

#include "test_util.h"

using namespace fat16test;

namespace {

// Geometry of a partitionless image, straight from the BPB.
struct Geo {
  uint32_t fat_lba, fat_sectors, nfats;
};
Geo GeoOf(const std::vector<uint8_t>& b) {
  return {uint32_t(b[14] | (b[15] << 8)), uint32_t(b[22] | (b[23] << 8)), b[16]};
}
uint16_t FatGet(const std::vector<uint8_t>& b, uint32_t c) {
  Geo g = GeoOf(b);
  size_t off = size_t(g.fat_lba) * 512 + c * 2;
  return uint16_t(b[off] | (b[off + 1] << 8));
}
// Sets FAT entry `c` in the first `copies` FAT copies (0 = all).
void FatSet(std::vector<uint8_t>& b, uint32_t c, uint16_t v, uint32_t copies = 0) {
  Geo g = GeoOf(b);
  if (copies == 0) copies = g.nfats;
  for (uint32_t i = 0; i < copies; i++) {
    size_t off = (size_t(g.fat_lba) + size_t(i) * g.fat_sectors) * 512 + c * 2;
    b[off] = uint8_t(v);
    b[off + 1] = uint8_t(v >> 8);
  }
}
void MarkDirty(std::vector<uint8_t>& b) { FatSet(b, 1, uint16_t(FatGet(b, 1) & 0x7FFF)); }
bool IsDirty(const std::vector<uint8_t>& b) { return !(FatGet(b, 1) & 0x8000); }

int Writes(const MemDisk& d) {
  int n = 0;
  for (auto& op : d.ops) n += !op.flush;
  return n;
}

// Mounts `bytes` (repair runs if dirty), syncs, and returns the result.
struct Mounted {
  std::vector<uint8_t> bytes;
  Fat16Repair repair;
  int writes;
};
Mounted MountSync(const std::vector<uint8_t>& bytes, std::vector<DiskOp>* ops = nullptr) {
  MemDisk d(bytes);
  d.record = true;
  auto fs = std::make_unique<Fat16>();
  int r = fat16_mount(fs.get(), d.dev());
  EXPECT_EQ(r, 0) << fs->error;
  if (r == 0) EXPECT_EQ(fat16_sync(fs.get()), 0) << fs->error;
  if (ops) *ops = d.ops;
  return {d.bytes, fs->repair, Writes(d)};
}

class Repair : public ImageDirTest {
 protected:
  Fsck FsckOf(const std::vector<uint8_t>& b) {
    WriteBytes(dir + "/check.img", b);
    return RunFsck(dir + "/check.img");
  }
};

// ---- power cut, then one more mount ----------------------------------------

struct Scenario {
  const char* name;
  bool has_old;
  int entries_between;
  size_t new_size, chunk;
  bool two_fats;
};

class RepairAfterCut : public Repair, public ::testing::WithParamInterface<Scenario> {};

TEST_P(RepairAfterCut, EveryPrefixMountsToCleanFsck) {
  if (dir.empty()) return;
  const Scenario& sc = GetParam();
  std::vector<uint8_t> old_state = RandomBytes(40000, 2), new_state = RandomBytes(sc.new_size, 3);
  std::string img = MakeStateVolume(dir, sc.two_fats, sc.has_old ? old_state : std::vector<uint8_t>{}, sc.entries_between);
  ASSERT_FALSE(img.empty());
  ASSERT_EQ(RunFsck(img).rc, 0);
  std::vector<uint8_t> base = ReadBytes(img);

  // The application's sequence, recorded (the first save of the session marks
  // the volume dirty; the fsync and the final sync mark it clean).
  MemDisk disk(base);
  auto fs = std::make_unique<Fat16>();
  ASSERT_EQ(fat16_mount(fs.get(), disk.dev()), 0) << fs->error;
  disk.record = true;
  Fat16File f;
  ASSERT_EQ(fat16_open(fs.get(), "/state/snapshot.bin.tmp", FAT16_O_CREAT | FAT16_O_TRUNC, &f), 0) << fs->error;
  for (size_t off = 0; off < new_state.size(); off += sc.chunk) {
    size_t n = std::min(sc.chunk, new_state.size() - off);
    ASSERT_EQ(fat16_write(fs.get(), &f, off, new_state.data() + off, n), int64_t(n)) << fs->error;
  }
  ASSERT_EQ(fat16_fsync(fs.get(), &f), 0);
  ASSERT_EQ(fat16_rename(fs.get(), "/state/snapshot.bin.tmp", "/state/snapshot.bin"), 0) << fs->error;
  ASSERT_EQ(fat16_sync(fs.get()), 0);
  disk.record = false;
  ASSERT_EQ(FsckOf(disk.bytes).rc, 0) << "after the final sync";

  int prefixes = 0, dirty = 0, repaired_something = 0, states_old = 0, states_new = 0;
  int nested = 0;
  uint32_t lost = 0, trimmed = 0;
  std::vector<uint8_t> img_bytes = base;
  for (size_t i = 0; i <= disk.ops.size() && !HasFailure(); i++) {
    if (i > 0) {
      const DiskOp& op = disk.ops[i - 1];
      if (op.flush) continue;
      std::copy(op.data.begin(), op.data.end(), img_bytes.begin() + std::ptrdiff_t(op.lba * 512));
    }
    std::string what = "prefix " + std::to_string(prefixes++);
    dirty += IsDirty(img_bytes);
    // The next boot: mount (repairs), the application reads its state, unmount.
    std::vector<DiskOp> rops;
    Mounted m = MountSync(img_bytes, &rops);
    if (!IsDirty(img_bytes)) EXPECT_EQ(m.writes, 0) << what << ": clean volume written at mount";
    EXPECT_EQ(m.repair.ran, IsDirty(img_bytes) ? 1 : 0) << what;
    EXPECT_EQ(m.repair.skipped, 0) << what << ": " << m.repair.text;
    if (m.repair.lost_clusters || m.repair.trimmed_chains || m.repair.fat_sectors_synced) repaired_something++;
    lost += m.repair.lost_clusters;
    trimmed += m.repair.trimmed_chains;
    Fsck fk = FsckOf(m.bytes);
    EXPECT_EQ(fk.rc, 0) << what << " (" << m.repair.text << ")\n" << fk.out;
    {
      MemDisk d(m.bytes);
      auto fs2 = std::make_unique<Fat16>();
      ASSERT_EQ(fat16_mount(fs2.get(), d.dev()), 0) << what;
      std::vector<uint8_t> got;
      bool present = LibReadAll(fs2.get(), "/state/snapshot.bin", &got);
      if (!present) {
        EXPECT_FALSE(sc.has_old) << what << ": state file vanished";
        states_old++;
      } else if (sc.has_old && got == old_state) {
        states_old++;
      } else if (got == new_state) {
        states_new++;
      } else {
        ADD_FAILURE() << what << ": state file is neither old nor new";
      }
    }
    // A cut during the repair itself: every prefix of its writes is leak-only
    // for fsck, and one more mount makes it clean. (Every 4th prefix with
    // repair writes, to bound the run time.)
    if (m.writes > 0 && prefixes % 4 == 1) {
      std::vector<uint8_t> cut = img_bytes;
      for (size_t k = 0; k < rops.size() && !HasFailure(); k++) {
        if (rops[k].flush) continue;
        std::copy(rops[k].data.begin(), rops[k].data.end(), cut.begin() + std::ptrdiff_t(rops[k].lba * 512));
        Fsck c = FsckOf(cut);
        if (c.rc != 0) EXPECT_TRUE(OnlyLeaks(c.out, "snapshot.bin.tmp", sc.two_fats)) << what << " repair op " << k << "\n" << c.out;
        Mounted again = MountSync(cut);
        EXPECT_EQ(again.repair.skipped, 0) << again.repair.text;
        Fsck c2 = FsckOf(again.bytes);
        EXPECT_EQ(c2.rc, 0) << what << " repair op " << k << " then mount\n" << c2.out;
        nested++;
      }
    }
  }
  EXPECT_GT(states_new, 0);
  EXPECT_GT(repaired_something, 0);
  printf("[repair %s] %d prefixes (%d dirty, %d with leaks repaired: %u lost clusters reclaimed, %u chains trimmed), "
         "%d cuts inside the repair; fsck clean after mount+sync: all; state old %d, new %d\n",
         sc.name, prefixes, dirty, repaired_something, lost, trimmed, nested, states_old, states_new);
}

INSTANTIATE_TEST_SUITE_P(
    Fat16, RepairAfterCut,
    ::testing::Values(Scenario{"replace_same_sector", true, 0, 70000, 8192, false},
                      Scenario{"replace_other_sector", true, 20, 50000, 3000, false},
                      Scenario{"first_save", false, 0, 30000, 30000, false},
                      Scenario{"small_in_place_growth", true, 0, 700, 100, false},
                      Scenario{"two_fats_replace", true, 0, 60000, 7000, true}),
    [](const ::testing::TestParamInfo<Scenario>& i) { return std::string(i.param.name); });

// ---- crafted damage ----------------------------------------------------------

// A small volume with /a.bin (1000 bytes: 2 clusters of 512) and /d/b.bin,
// written by the library and synced (clean).
std::vector<uint8_t> Base(const std::string& dir, bool two_fats = false) {
  std::string img = MakeImage(dir, 4400, two_fats ? "-s 1 -f 2" : "-s 1 -f 1");
  MemDisk d(ReadBytes(img));
  auto fs = std::make_unique<Fat16>();
  EXPECT_EQ(fat16_mount(fs.get(), d.dev()), 0);
  EXPECT_TRUE(LibWriteAll(fs.get(), "/a.bin", RandomBytes(1000, 7)));
  EXPECT_EQ(fat16_mkdir(fs.get(), "/d"), 0);
  EXPECT_TRUE(LibWriteAll(fs.get(), "/d/b.bin", RandomBytes(3000, 8)));
  EXPECT_EQ(fat16_sync(fs.get()), 0);
  return d.bytes;
}

uint16_t FirstCluster(const std::vector<uint8_t>& b, const char* path) {
  MemDisk d(b);
  auto fs = std::make_unique<Fat16>();
  EXPECT_EQ(fat16_mount(fs.get(), d.dev()), 0);
  Fat16Stat st;
  EXPECT_EQ(fat16_stat(fs.get(), path, &st), 0);
  return st.first_cluster;
}

uint32_t LastOfChain(const std::vector<uint8_t>& b, uint32_t c) {
  while (FatGet(b, c) < 0xFFF8) c = FatGet(b, c);
  return c;
}

void ExpectFiles(const std::vector<uint8_t>& b) {
  MemDisk d(b);
  auto fs = std::make_unique<Fat16>();
  ASSERT_EQ(fat16_mount(fs.get(), d.dev()), 0);
  std::vector<uint8_t> got;
  ASSERT_TRUE(LibReadAll(fs.get(), "/a.bin", &got));
  EXPECT_EQ(got, RandomBytes(1000, 7));
  ASSERT_TRUE(LibReadAll(fs.get(), "/d/b.bin", &got));
  EXPECT_EQ(got, RandomBytes(3000, 8));
}

TEST_F(Repair, CleanVolumeIsNotWrittenAtMount) {
  if (dir.empty()) return;
  std::vector<uint8_t> b = Base(dir);
  ASSERT_FALSE(IsDirty(b));
  ASSERT_EQ(FsckOf(b).rc, 0);
  MemDisk d(b);
  d.record = true;
  auto fs = std::make_unique<Fat16>();
  ASSERT_EQ(fat16_mount(fs.get(), d.dev()), 0);
  std::vector<uint8_t> got;
  ASSERT_TRUE(LibReadAll(fs.get(), "/d/b.bin", &got));
  EXPECT_EQ(fat16_sync(fs.get()), 0);   // nothing written: no clean mark needed either
  EXPECT_EQ(fs->repair.ran, 0);
  EXPECT_EQ(Writes(d), 0);
  EXPECT_EQ(d.bytes, b);
}

TEST_F(Repair, FirstWriteMarksDirtySyncMarksClean) {
  if (dir.empty()) return;
  std::vector<uint8_t> b = Base(dir);
  MemDisk d(b);
  d.record = true;
  auto fs = std::make_unique<Fat16>();
  ASSERT_EQ(fat16_mount(fs.get(), d.dev()), 0);
  ASSERT_TRUE(LibWriteAll(fs.get(), "/c.bin", RandomBytes(5000, 9)));
  // The very first write is FAT sector 0 with only the dirty bit changed, then a flush.
  ASSERT_GE(d.ops.size(), 2u);
  EXPECT_FALSE(d.ops[0].flush);
  EXPECT_EQ(d.ops[0].lba, GeoOf(b).fat_lba);
  EXPECT_TRUE(d.ops[1].flush);
  EXPECT_TRUE(IsDirty(d.bytes));
  Fsck dirty = FsckOf(d.bytes);
  EXPECT_NE(dirty.rc, 0);   // fsck.fat 4.2 -n reports the dirty bit
  EXPECT_NE(dirty.out.find("Dirty bit is set"), std::string::npos) << dirty.out;
  ASSERT_EQ(fat16_sync(fs.get()), 0);
  EXPECT_FALSE(IsDirty(d.bytes));
  EXPECT_EQ(FsckOf(d.bytes).rc, 0);
  // Dirty bit left set by an unclean unmount with nothing else wrong: one
  // mount repairs nothing but marks the volume clean.
  std::vector<uint8_t> x = d.bytes;
  MarkDirty(x);
  Mounted m = MountSync(x);
  EXPECT_EQ(m.repair.ran, 1);
  EXPECT_STREQ(m.repair.text, "repaired: volume was marked dirty, nothing to fix");
  EXPECT_EQ(FsckOf(m.bytes).rc, 0);
}

TEST_F(Repair, LostChainIsReclaimed) {
  if (dir.empty()) return;
  std::vector<uint8_t> b = Base(dir);
  // Three free clusters far from the files, chained, referenced by nothing.
  FatSet(b, 3000, 3001);
  FatSet(b, 3001, 3002);
  FatSet(b, 3002, 0xFFFF);
  FatSet(b, 4000, 0xFFFF);   // and a lone one
  Fsck before = FsckOf(b);
  ASSERT_NE(before.rc, 0);
  ASSERT_NE(before.out.find("Reclaimed 4 unused clusters"), std::string::npos) << before.out;
  // Not dirty: the mount does not scan (that is the point of the flag).
  EXPECT_EQ(MountSync(b).writes, 0);
  MarkDirty(b);
  Mounted m = MountSync(b);
  EXPECT_EQ(m.repair.ran, 1);
  EXPECT_EQ(m.repair.lost_clusters, 4u);
  EXPECT_EQ(m.repair.trimmed_chains, 0u);
  EXPECT_STREQ(m.repair.text, "repaired: reclaimed 4 lost clusters");
  Fsck after = FsckOf(m.bytes);
  EXPECT_EQ(after.rc, 0) << after.out;
  EXPECT_EQ(FatGet(m.bytes, 3001), 0);
  ExpectFiles(m.bytes);
}

TEST_F(Repair, OverLongChainIsTrimmed) {
  if (dir.empty()) return;
  std::vector<uint8_t> b = Base(dir);
  uint32_t first = FirstCluster(b, "/d/b.bin");   // 3000 bytes: 6 clusters
  uint32_t last = LastOfChain(b, first);
  FatSet(b, last, 3500);
  FatSet(b, 3500, 3501);
  FatSet(b, 3501, 0xFFFF);
  MarkDirty(b);
  Fsck before = FsckOf(b);
  ASSERT_NE(before.out.find("cluster chain length is"), std::string::npos) << before.out;
  Mounted m = MountSync(b);
  EXPECT_EQ(m.repair.trimmed_chains, 1u);
  EXPECT_EQ(m.repair.trimmed_clusters, 2u);
  EXPECT_EQ(m.repair.lost_clusters, 0u);
  EXPECT_STREQ(m.repair.text, "repaired: trimmed 1 chain (2 clusters)");
  EXPECT_EQ(FatGet(m.bytes, last), 0xFFFF);
  EXPECT_EQ(FatGet(m.bytes, 3500), 0);
  EXPECT_EQ(FatGet(m.bytes, 3501), 0);
  Fsck after = FsckOf(m.bytes);
  EXPECT_EQ(after.rc, 0) << after.out;
  ExpectFiles(m.bytes);
}

TEST_F(Repair, SecondFatIsMadeEqual) {
  if (dir.empty()) return;
  std::vector<uint8_t> b = Base(dir, true);
  FatSet(b, 2000, 0xFFFF, 1);   // a lost cluster in FAT 1 only (cut between the copies)
  MarkDirty(b);
  Mounted m = MountSync(b);
  EXPECT_EQ(m.repair.lost_clusters, 1u);
  Fsck after = FsckOf(m.bytes);
  EXPECT_EQ(after.rc, 0) << after.out;
  // FAT 2 differs from FAT 1 in an entry that FAT 1 has right.
  std::vector<uint8_t> c = m.bytes;
  Geo g = GeoOf(c);
  c[(size_t(g.fat_lba) + g.fat_sectors) * 512 + 2100 * 2] = 0x55;
  MarkDirty(c);
  Mounted m2 = MountSync(c);
  EXPECT_EQ(m2.repair.fat_sectors_synced, 1u);
  EXPECT_EQ(FsckOf(m2.bytes).rc, 0) << FsckOf(m2.bytes).out;
  ExpectFiles(m2.bytes);
}

TEST_F(Repair, CrossLinkIsLeftAloneAndVolumeStaysDirty) {
  if (dir.empty()) return;
  std::vector<uint8_t> b = Base(dir);
  uint32_t a = FirstCluster(b, "/a.bin"), bb = FirstCluster(b, "/d/b.bin");
  FatSet(b, 3000, 0xFFFF);             // a leak the repair would free...
  FatSet(b, bb, uint16_t(a));          // ...but b.bin's chain runs into a.bin's
  MarkDirty(b);
  MemDisk d(b);
  d.record = true;
  auto fs = std::make_unique<Fat16>();
  ASSERT_EQ(fat16_mount(fs.get(), d.dev()), 0);
  EXPECT_EQ(fs->repair.ran, 1);
  EXPECT_EQ(fs->repair.skipped, 1);
  EXPECT_NE(std::string(fs->repair.text).find("not repaired"), std::string::npos) << fs->repair.text;
  EXPECT_EQ(fat16_sync(fs.get()), 0);
  EXPECT_EQ(Writes(d), 0);
  EXPECT_TRUE(IsDirty(d.bytes));
}

TEST_F(Repair, WriteErrorDuringRepairStillMounts) {
  if (dir.empty()) return;
  std::vector<uint8_t> b = Base(dir);
  FatSet(b, 3000, 0xFFFF);
  MarkDirty(b);
  MemDisk d(b);
  d.fail_writes = true;
  auto fs = std::make_unique<Fat16>();
  ASSERT_EQ(fat16_mount(fs.get(), d.dev()), 0) << fs->error;
  EXPECT_EQ(fs->repair.skipped, 1);
  EXPECT_EQ(std::string(fs->repair.text).rfind("repair failed: ", 0), 0u) << fs->repair.text;
  std::vector<uint8_t> got;
  ASSERT_TRUE(LibReadAll(fs.get(), "/d/b.bin", &got));
  EXPECT_EQ(got, RandomBytes(3000, 8));
  EXPECT_EQ(d.bytes, b);
}

}  // namespace
