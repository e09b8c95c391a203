// RESP encoding of commands: an array of bulk strings, so every argument is binary-safe.
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "redis/reply.hpp"

namespace callsign::redis {

// Appends `cmd` as "*<n>\r\n$<len>\r\n<arg>\r\n..." to `out`.
void append_command(std::string& out, const command& cmd);

// The first word of an error reply ("WRONGPASS", "READONLY"): what error texts may show,
// since the rest of a server's message can echo a key or a script.
std::string error_code(const reply& error);

}  // namespace callsign::redis
