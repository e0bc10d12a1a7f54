// A gzip member inflated (zlib), for tests of gzipped answers.
#pragma once

#include <zlib.h>

#include <string>
#include <string_view>

namespace ledger::testing {

// The bytes of one gzip member, or "<not gzip>" when it does not inflate
// whole.
inline std::string Gunzip(std::string_view gz) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return "<not gzip>";
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END && z.avail_in == 0 ? out : "<not gzip>";
}

}  // namespace ledger::testing
