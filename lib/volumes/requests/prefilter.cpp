#include "lib/volumes/requests/prefilter.hpp"

namespace dvdi::volumes {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// True for a `\uXXXX` escape at text[i] (the backslash) that decodes to a character a marker
// could contain: an ASCII letter or '_' (markers are upper-case, but case is cheap to include).
bool escapes_marker_char(std::string_view text, std::size_t i) {
    if (i + 6 > text.size() || text[i + 1] != 'u') {
        return false;
    }
    int code = 0;
    for (std::size_t k = 2; k < 6; ++k) {
        const int h = hex_value(text[i + k]);
        if (h < 0) {
            return false;
        }
        code = code * 16 + h;
    }
    return code == '_' || (code >= 'A' && code <= 'Z') || (code >= 'a' && code <= 'z');
}

} // namespace

bool might_request_volumes(std::string_view raw_text) noexcept {
    if (raw_text.find("DVDI_VOLUME_") != std::string_view::npos ||
        raw_text.find("DOCKER_VOLUME") != std::string_view::npos) {
        return true;
    }
    // A JSON writer may spell any character as \uXXXX; a marker hidden that way still counts.
    for (std::size_t i = raw_text.find('\\'); i != std::string_view::npos; i = raw_text.find('\\', i + 1)) {
        if (escapes_marker_char(raw_text, i)) {
            return true;
        }
    }
    return false;
}

} // namespace dvdi::volumes
