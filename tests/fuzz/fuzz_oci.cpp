// libFuzzer entry point of the oci reader (see targets.hpp); built by scripts/fuzz.sh only.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    dvdi::fuzz::oci_step(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
