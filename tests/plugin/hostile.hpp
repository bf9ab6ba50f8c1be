// The test plugin's hostile ways of sending an answer (dvdi_test_plugin.cpp documents them):
// a slow drip, or framing without end (trailers, chunk extensions, header lines). They exist
// to show that the hook's reader gives up within its cap or its deadline.
#pragma once

#include <cstddef>
#include <string>

namespace dvdi::test::plugin {

/// Every hostile sender stops after this many bytes, or after kHostileTime, if the peer has not
/// closed by then: the test plugin never runs unbounded.
inline constexpr std::size_t kHostileBytes = 256UL * 1024 * 1024;
inline constexpr int kHostileSeconds = 120;

/// True when `behaviour` is one of the streamed ones: drip:MS, trailers, chunkext, headers.
[[nodiscard]] bool is_hostile(const std::string& behaviour);

/// Sends the answer (`head`: its status line and headers, each ending in CRLF, without framing
/// or the blank line; `body`: its body) to `fd` the way `behaviour` says. Returns the bytes the
/// socket took, once the peer closes (a write fails), the answer is complete (drip) or a limit
/// above is reached; never throws for a write error. The connection is not reusable afterwards.
std::size_t send_hostile(int fd, const std::string& behaviour, const std::string& head, const std::string& body);

} // namespace dvdi::test::plugin
