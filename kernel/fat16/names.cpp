// names.cpp - the on-disk encodings of names and times: 8.3 short names and their
// aliases, VFAT long names (UTF-8 <-> UTF-16), building a name's entries, FAT dates.
#include "fat16_internal.h"

namespace fat16_impl {

// ---- time ------------------------------------------------------------------
namespace {

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

}  // namespace

int64_t fat_to_unix(uint16_t date, uint16_t time) {
  if (date == 0) return 0;
  unsigned d = date & 31, m = (date >> 5) & 15;
  int64_t y = 1980 + (date >> 9);
  if (d == 0 || m == 0 || m > 12) return 0;
  int64_t s = days_from_civil(y, m, d) * 86400;
  return s + (time >> 11) * 3600 + ((time >> 5) & 63) * 60 + (time & 31) * 2;
}

namespace {

void unix_to_fat(int64_t t, uint16_t* date, uint16_t* time) {
  if (t < 315532800) t = 315532800;   // 1980-01-01
  int64_t days = t / 86400, secs = t % 86400;
  // civil_from_days
  days += 719468;
  const int64_t era = days / 146097;
  const unsigned doe = unsigned(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = int64_t(yoe) + era * 400 + (m <= 2);
  if (y > 2107) y = 2107;
  *date = uint16_t(((y - 1980) << 9) | (m << 5) | d);
  *time = uint16_t(((secs / 3600) << 11) | (((secs / 60) % 60) << 5) | ((secs % 60) / 2));
}

}  // namespace

void stamp_entry(Fat16* fs, uint8_t* e, bool created) {
  int64_t now = fs->dev->now ? fs->dev->now(fs->dev->ctx) : 1767225600;   // 2026-01-01
  uint16_t d, t;
  unix_to_fat(now, &d, &t);
  st16(e + 22, t);
  st16(e + 24, d);
  st16(e + 18, d);   // access date
  if (created) {
    e[13] = 0;
    st16(e + 14, t);
    st16(e + 16, d);
  }
}

// ---- names -----------------------------------------------------------------
namespace {

bool bad_name_char(uint8_t c) {
  return c < 0x20 || c == '\\' || c == ':' || c == '*' || c == '?' || c == '"' || c == '<' ||
         c == '>' || c == '|' || c == '/' || c == 0x7F;
}

// Characters allowed in a short name besides A-Z and 0-9.
bool short_char_ok(uint8_t c) {
  if (c >= 0x80) return false;   // names are UTF-8: non-ASCII needs a long name
  if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (const char* p = "!#$%&'()-@^_`{}~"; *p; p++)
    if (c == uint8_t(*p)) return true;
  return false;
}

}  // namespace

// Formats an 11-byte short name as "NAME.EXT", applying the NT lower-case flags.
void short_to_text(const uint8_t* e, char* out) {
  int n = 0;
  for (int i = 0; i < 8 && e[i] != ' '; i++) {
    char c = char(i == 0 && e[0] == 0x05 ? 0xE5 : e[i]);
    out[n++] = (e[12] & kNtLowerBase) ? lower(c) : c;
  }
  if (e[8] != ' ') {
    out[n++] = '.';
    for (int i = 8; i < 11 && e[i] != ' '; i++) out[n++] = (e[12] & kNtLowerExt) ? lower(char(e[i])) : char(e[i]);
  }
  out[n] = 0;
}

uint8_t lfn_checksum(const uint8_t* short_name) {
  uint8_t sum = 0;
  for (int i = 0; i < 11; i++) sum = uint8_t(((sum & 1) << 7) + (sum >> 1) + short_name[i]);
  return sum;
}

// If `name` can be stored as a plain 8.3 entry (possibly with NT case flags),
// fills sn[11] and *nt and returns true.
bool name_fits_83(const char* name, uint32_t len, uint8_t* sn, uint8_t* nt) {
  if (len == 0 || len > 12 || name[0] == '.') return false;
  uint32_t dot = len;
  for (uint32_t i = 0; i < len; i++)
    if (name[i] == '.') {
      if (dot != len) return false;
      dot = i;
    }
  uint32_t blen = dot, elen = dot == len ? 0 : len - dot - 1;
  if (blen == 0 || blen > 8 || elen > 3 || (dot != len && elen == 0)) return false;
  bool bl = false, bu = false, el = false, eu = false;
  __builtin_memset(sn, ' ', 11);
  for (uint32_t i = 0; i < len; i++) {
    if (i == dot) continue;
    char c = name[i];
    bool is_ext = i > dot;
    if (c >= 'a' && c <= 'z') (is_ext ? el : bl) = true;
    if (c >= 'A' && c <= 'Z') (is_ext ? eu : bu) = true;
    uint8_t u = uint8_t(upper(c));
    if (!short_char_ok(u)) return false;
    if (is_ext) sn[8 + (i - dot - 1)] = u;
    else sn[i] = u;
  }
  if ((bl && bu) || (el && eu)) return false;   // mixed case needs a long name
  if (sn[0] == kDeleted) sn[0] = 0x05;
  *nt = uint8_t((bl ? kNtLowerBase : 0) | (el ? kNtLowerExt : 0));
  return true;
}

// Builds the short-alias basis "BASIS~N" for a long name (N filled in later).
void alias_basis(const char* name, uint32_t len, uint8_t* sn) {
  __builtin_memset(sn, ' ', 11);
  uint32_t dot = len;
  for (uint32_t i = len; i > 0; i--)
    if (name[i - 1] == '.') {
      dot = i - 1;
      break;
    }
  uint32_t n = 0;
  for (uint32_t i = 0; i < dot && n < 8; i++) {
    uint8_t c = uint8_t(upper(name[i]));
    if (c == ' ' || c == '.') continue;
    sn[n++] = short_char_ok(c) ? c : '_';
  }
  if (n == 0) sn[n++] = '_';
  n = 0;
  for (uint32_t i = dot + 1; i < len && n < 3; i++) {
    uint8_t c = uint8_t(upper(name[i]));
    if (c == ' ' || c == '.') continue;
    sn[8 + n++] = short_char_ok(c) ? c : '_';
  }
}

// Writes "~N" into the basis (base part shortened as needed).
void alias_apply(const uint8_t* basis, uint32_t num, uint8_t* sn) {
  mcopy(sn, basis, 11);
  char digits[8];
  int nd = 0;
  for (uint32_t v = num; v; v /= 10) digits[nd++] = char('0' + v % 10);
  int blen = 0;
  while (blen < 8 && basis[blen] != ' ') blen++;
  int keep = blen < 7 - nd ? blen : 7 - nd;
  int p = keep;
  sn[p++] = '~';
  while (nd) sn[p++] = uint8_t(digits[--nd]);
  while (p < 8) sn[p++] = ' ';
}

bool names_equal(const char* a, uint32_t alen, const char* b) {
  uint32_t i = 0;
  for (; i < alen; i++)
    if (b[i] == 0 || upper(a[i]) != upper(b[i])) return false;
  return b[i] == 0;
}

namespace {

// LFN character slots inside a 32-byte LFN entry.
const uint8_t kLfnOffsets[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};

}  // namespace

void lfn_take(LfnState* l, const uint8_t* e, uint32_t slot) {
  uint32_t ord = e[0] & 0x1F;
  if (e[0] & 0x40) {
    l->total = (ord >= 1 && ord <= kLfnMaxSlots) ? ord : 0;
    l->expect = ord;
    l->csum = e[13];
    l->start = slot;
    mzero(l->units, sizeof l->units);
  } else if (l->total == 0 || ord != l->expect || e[13] != l->csum) {
    l->total = 0;
    return;
  }
  if (l->total == 0) return;
  for (int i = 0; i < 13; i++) {
    uint16_t ch = ld16(e + kLfnOffsets[i]);
    if (ch == 0 || ch == 0xFFFF) break;
    l->units[(ord - 1) * 13 + uint32_t(i)] = ch;
  }
  l->expect = ord - 1;
}

// UTF-16 (0-terminated, at most n units) to UTF-8 in out[cap]; unpaired
// surrogates become '?'. Stops at a character that does not fit.
void utf16_to_utf8(const uint16_t* u, uint32_t n, char* out, uint32_t cap) {
  uint32_t o = 0;
  for (uint32_t i = 0; i < n && u[i]; i++) {
    uint32_t c = u[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] < 0xE000)
      c = 0x10000 + ((c - 0xD800) << 10) + (u[++i] - 0xDC00);
    else if (c >= 0xD800 && c < 0xE000)
      c = '?';
    uint32_t len = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (o + len >= cap) break;
    if (len == 1) {
      out[o++] = char(c);
    } else {
      out[o++] = char((len == 2 ? 0xC0 : len == 3 ? 0xE0 : 0xF0) | (c >> (6 * (len - 1))));
      for (uint32_t k = len - 1; k > 0; k--) out[o++] = char(0x80 | ((c >> (6 * (k - 1))) & 0x3F));
    }
  }
  out[o] = 0;
}

namespace {

// UTF-8 name (len bytes) to UTF-16 units; returns the unit count, or -1 if
// the bytes are not valid UTF-8 or need more than `cap` units.
int utf8_to_utf16(const char* s, uint32_t len, uint16_t* u, uint32_t cap) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < len;) {
    uint8_t b = uint8_t(s[i]);
    uint32_t c, extra;
    if (b < 0x80) c = b, extra = 0;
    else if ((b & 0xE0) == 0xC0) c = b & 0x1F, extra = 1;
    else if ((b & 0xF0) == 0xE0) c = b & 0x0F, extra = 2;
    else if ((b & 0xF8) == 0xF0) c = b & 0x07, extra = 3;
    else return -1;
    if (i + extra >= len + (extra == 0)) return -1;
    for (uint32_t k = 1; k <= extra; k++) {
      uint8_t t = uint8_t(s[i + k]);
      if ((t & 0xC0) != 0x80) return -1;
      c = (c << 6) | (t & 0x3F);
    }
    static const uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (c < kMin[extra] || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) return -1;
    i += extra + 1;
    if (c >= 0x10000) {
      if (n + 2 > cap) return -1;
      u[n++] = uint16_t(0xD800 + ((c - 0x10000) >> 10));
      u[n++] = uint16_t(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      if (n + 1 > cap) return -1;
      u[n++] = uint16_t(c);
    }
  }
  return int(n);
}

}  // namespace

// Builds the entries for `name` (LFN slots + short entry) into ents; returns
// the count. `sn`/`nt` are the short name and case flags to use.
uint32_t build_entries(const char* name, uint32_t len, const uint8_t* sn, uint8_t nt, bool with_lfn,
                       const uint8_t* proto, uint8_t (*ents)[32]) {
  uint16_t units[kLfnMaxSlots * 13];
  int nu = with_lfn ? utf8_to_utf16(name, len, units, FAT16_NAME_MAX) : 0;
  if (nu < 0) nu = 0;   // checked by check_new_name() before
  uint32_t ulen = uint32_t(nu);
  uint32_t nl = with_lfn ? (ulen + 12) / 13 : 0;
  uint8_t csum = lfn_checksum(sn);
  for (uint32_t i = 0; i < nl; i++) {
    uint8_t* e = ents[i];
    uint32_t ord = nl - i;   // first slot holds the last part
    mzero(e, 32);
    e[0] = uint8_t(ord | (i == 0 ? 0x40 : 0));
    e[11] = kAttrLfn;
    e[13] = csum;
    for (uint32_t k = 0; k < 13; k++) {
      uint32_t at = (ord - 1) * 13 + k;
      uint16_t ch = at < ulen ? units[at] : (at == ulen ? 0 : 0xFFFF);
      st16(e + kLfnOffsets[k], ch);
    }
  }
  uint8_t* e = ents[nl];
  mcopy(e, proto, 32);
  mcopy(e, sn, 11);
  e[12] = nt;
  return nl + 1;
}

// Validates one path component as a new name.
int check_new_name(Fat16* fs, const char* name, uint32_t len) {
  if (len == 0) return fail(fs, FAT16_EINVAL, "empty name");
  if (len > FAT16_NAME_MAX) return fail(fs, FAT16_ENAMETOOLONG, "name longer than 255 bytes");
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return fail(fs, FAT16_EEXIST, "'.' and '..' exist");
  for (uint32_t i = 0; i < len; i++)
    if (bad_name_char(uint8_t(name[i]))) return fail(fs, FAT16_EINVAL, "character not allowed in a FAT name");
  uint16_t units[kLfnMaxSlots * 13];
  if (utf8_to_utf16(name, len, units, FAT16_NAME_MAX) < 0)
    return fail(fs, FAT16_EINVAL, "name is not valid UTF-8 (or longer than 255 UTF-16 units)");
  // FAT ignores trailing dots and spaces; refuse them rather than alias silently.
  if (name[len - 1] == '.' || name[len - 1] == ' ') return fail(fs, FAT16_EINVAL, "name ends in '.' or ' '");
  return 0;
}

}  // namespace fat16_impl
