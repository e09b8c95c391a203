#include "server/stream/websocket_frame.hpp"

#include <algorithm>

namespace callsign::server {

namespace {
bool is_control(ws_opcode op) { return (static_cast<std::uint8_t>(op) & 0x08U) != 0; }

bool known_opcode(unsigned op) { return op <= 2 || (op >= 8 && op <= 10); }

// Close codes a peer may send (RFC 6455 section 7.4; 1004-1006 and 1015 are never on the wire).
bool valid_close_code(std::uint16_t code) {
  if (code >= 3000 && code <= 4999) {
    return true;
  }
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

void fail(ws_event& out, std::uint16_t code) {
  out.what = ws_event::kind::error;
  out.code = code;
  out.payload.clear();
}
}  // namespace

std::size_t ws_frame_header(ws_opcode opcode, std::size_t size, std::array<std::uint8_t, 10>& out) {
  out[0] = static_cast<std::uint8_t>(0x80U | static_cast<std::uint8_t>(opcode));
  if (size < 126) {
    out[1] = static_cast<std::uint8_t>(size);
    return 2;
  }
  if (size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(size >> 8);
    out[3] = static_cast<std::uint8_t>(size);
    return 4;
  }
  out[1] = 127;
  auto wide = static_cast<std::uint64_t>(size);
  for (int i = 0; i < 8; ++i) {
    out[static_cast<std::size_t>(2 + i)] = static_cast<std::uint8_t>(wide >> (56 - 8 * i));
  }
  return 10;
}

std::string ws_frame(ws_opcode opcode, std::string_view payload) {
  std::array<std::uint8_t, 10> head{};
  auto n = ws_frame_header(opcode, payload.size(), head);
  std::string out(reinterpret_cast<const char*>(head.data()), n);
  out.append(payload);
  return out;
}

std::string ws_close_frame(std::uint16_t code) {
  if (code == ws_close::no_status) {
    return ws_frame(ws_opcode::close, {});
  }
  const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFFU)};
  return ws_frame(ws_opcode::close, std::string_view(body, 2));
}

bool ws_reader::parse_header(ws_event& out) {
  const std::uint8_t b0 = head_[0];
  const std::uint8_t b1 = head_[1];
  const auto op = static_cast<std::uint8_t>(b0 & 0x0FU);
  if ((b0 & 0x70U) != 0 || !known_opcode(op) || (b1 & 0x80U) == 0) {
    fail(out, ws_close::protocol_error);  // reserved bits, unknown opcode, or an unmasked frame
    return false;
  }
  fin_ = (b0 & 0x80U) != 0;
  opcode_ = static_cast<ws_opcode>(op);
  std::uint64_t length = b1 & 0x7FU;
  std::size_t at = 2;
  if (length == 126) {
    length = (std::uint64_t{head_[2]} << 8) | head_[3];
    at = 4;
  } else if (length == 127) {
    length = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      length = (length << 8) | head_[2 + i];
    }
    at = 10;
    if ((length >> 63) != 0) {
      fail(out, ws_close::protocol_error);
      return false;
    }
  }
  std::copy_n(head_.begin() + static_cast<std::ptrdiff_t>(at), 4, mask_.begin());
  mask_pos_ = 0;
  remaining_ = length;
  if (is_control(opcode_)) {
    if (!fin_ || length > 125) {
      fail(out, ws_close::protocol_error);
      return false;
    }
    control_.clear();
    return true;
  }
  if ((opcode_ == ws_opcode::continuation) != in_message_) {
    fail(out, ws_close::protocol_error);  // a continuation without a message, or a new one inside one
    return false;
  }
  if (!in_message_) {
    message_.clear();
    message_size_ = 0;
    message_opcode_ = opcode_;
  }
  if (length > max_message_ - std::min(message_size_, max_message_)) {
    fail(out, ws_close::too_big);
    return false;
  }
  message_size_ += static_cast<std::size_t>(length);
  in_message_ = !fin_;
  return true;
}

void ws_reader::finish_frame(ws_event& out) {
  in_payload_ = false;
  head_len_ = 0;
  if (is_control(opcode_)) {
    if (opcode_ == ws_opcode::ping) {
      out.what = ws_event::kind::ping;
      out.payload = std::move(control_);
    } else if (opcode_ == ws_opcode::pong) {
      out.what = ws_event::kind::pong;
    } else {
      if (control_.size() == 1) {
        fail(out, ws_close::protocol_error);
        return;
      }
      std::uint16_t code = ws_close::no_status;
      if (control_.size() >= 2) {
        code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(control_[0]) << 8) |
                                          static_cast<std::uint8_t>(control_[1]));
        if (!valid_close_code(code)) {
          fail(out, ws_close::protocol_error);
          return;
        }
      }
      out.what = ws_event::kind::close;
      out.code = code;
    }
    control_.clear();
    return;
  }
  if (fin_) {
    out.what = ws_event::kind::message;
    out.binary = message_opcode_ == ws_opcode::binary;
    out.payload = std::move(message_);
    message_.clear();
    message_size_ = 0;
  }
}

std::size_t ws_reader::feed(std::span<const std::uint8_t> in, ws_event& out) {
  out.what = ws_event::kind::none;
  std::size_t used = 0;
  while (used < in.size() && !failed_) {
    if (!in_payload_) {
      // The header is 2 bytes, then 0, 2 or 8 length bytes, then the 4-byte mask.
      head_[head_len_++] = in[used++];
      if (head_len_ < 2) {
        continue;
      }
      if (head_len_ == 2 && ((head_[0] & 0x70U) != 0 || !known_opcode(head_[0] & 0x0FU) || (head_[1] & 0x80U) == 0)) {
        fail(out, ws_close::protocol_error);  // known from the first two bytes: do not wait for more
        failed_ = true;
        return used;
      }
      const std::uint8_t len7 = head_[1] & 0x7FU;
      const std::size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
      if (head_len_ < need) {
        continue;
      }
      if (!parse_header(out)) {
        failed_ = true;
        return used;
      }
      in_payload_ = true;
      if (remaining_ == 0) {
        finish_frame(out);
        if (out.what == ws_event::kind::error) {
          failed_ = true;
        }
        if (out.what != ws_event::kind::none) {
          return used;
        }
      }
      continue;
    }
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - used));
    std::string* sink = is_control(opcode_) ? &control_ : (keep_ ? &message_ : nullptr);
    if (sink != nullptr) {
      const auto start = sink->size();
      sink->resize(start + take);
      for (std::size_t i = 0; i < take; ++i) {
        (*sink)[start + i] = static_cast<char>(in[used + i] ^ mask_[mask_pos_]);
        mask_pos_ = static_cast<std::uint8_t>((mask_pos_ + 1) & 3U);
      }
    }
    used += take;
    remaining_ -= take;
    if (remaining_ == 0) {
      finish_frame(out);
      if (out.what == ws_event::kind::error) {
        failed_ = true;
      }
      if (out.what != ws_event::kind::none) {
        return used;
      }
    }
  }
  return used;
}

}  // namespace callsign::server
