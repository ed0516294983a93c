// time_natives.cc — ISO 8601 text for instants, in UTC.
//
// Writing always gives milliseconds and a Z ("2023-11-14T22:13:20.000Z"), so
// iso-time and parse-iso-time are inverses for every instant from year 0 to
// 9999. Reading takes the fields with strptime and the fraction with
// from_chars, accepts Z or an offset (+hh:mm, +hhmm, +hh), and checks the
// date is real by converting back (so Feb 30 and 23:59:60 are refused).
#include "host/ops/time_natives.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <ctime>
#include <string>

namespace sx::host {

namespace {

constexpr int64_t kMsPerSecond = 1000;

Value IsoTime(Interpreter& in, std::span<const Value> a) {
  if (!a[0].IsInt()) {
    throw Error("iso-time: argument 1 must be an integer (milliseconds since the epoch), got " +
                a[0].Inspect());
  }
  int64_t ms = a[0].AsInt();
  int64_t secs = ms / kMsPerSecond;
  int64_t frac = ms % kMsPerSecond;
  if (frac < 0) {  // floor, so that instants before 1970 count forward within their second
    frac += kMsPerSecond;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
    throw Error("iso-time: " + std::to_string(ms) + " is outside the years 0 to 9999");
  }
  return in.String(fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac));
}

[[noreturn]] void BadIso(const std::string& text, const std::string& why) {
  throw Error("parse-iso-time: " + why + " in \"" + text +
              "\" (expected YYYY-MM-DDTHH:MM:SS[.fff] then Z or an offset like +02:00)");
}

// Milliseconds of a fraction's digits at p ("5" is 500, "1234" is 123).
int64_t FractionMs(const std::string& text, const char** p) {
  const char* begin = *p;
  const char* end = begin;
  while (*end >= '0' && *end <= '9') ++end;
  if (end == begin) BadIso(text, "no digits after the decimal point");
  const char* last = begin + std::min<ptrdiff_t>(3, end - begin);
  int64_t ms = 0;
  std::from_chars(begin, last, ms);
  for (ptrdiff_t n = last - begin; n < 3; ++n) ms *= 10;
  *p = end;
  return ms;
}

Value ParseIsoTime(Interpreter& in, std::span<const Value> a) {
  if (!a[0].IsString()) {
    throw Error("parse-iso-time: argument 1 must be a string, got " + a[0].Inspect());
  }
  std::string text = a[0].AsString();
  if (text.empty() || text[0] < '0' || text[0] > '9') BadIso(text, "no date");
  std::tm tm{};
  const char* p = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == nullptr) BadIso(text, "no date and time");
  int64_t ms = *p == '.' ? (++p, FractionMs(text, &p)) : 0;
  long offset = 0;
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else {
    std::tm zone{};
    const char* after = *p == '+' || *p == '-' ? strptime(p, "%z", &zone) : nullptr;
    if (after == nullptr) BadIso(text, "no time zone (Z for UTC)");
    offset = zone.tm_gmtoff;
    p = after;
  }
  if (*p != '\0') BadIso(text, "unexpected \"" + std::string(p) + "\"");
  std::tm fields = tm;
  std::time_t secs = timegm(&tm);
  std::tm back{};
  if (gmtime_r(&secs, &back) == nullptr || back.tm_year != fields.tm_year ||
      back.tm_mon != fields.tm_mon || back.tm_mday != fields.tm_mday ||
      back.tm_hour != fields.tm_hour || back.tm_min != fields.tm_min ||
      back.tm_sec != fields.tm_sec) {
    BadIso(text, "no such date or time");
  }
  return in.Int((static_cast<int64_t>(secs) - offset) * kMsPerSecond + ms);
}

}  // namespace

void DefineTimeNatives(Interpreter& in) {
  in.DefineNative("iso-time", 1, 1,
                  "(iso-time ms) the instant ms milliseconds after the epoch as ISO 8601 UTC "
                  "text, \"2023-11-14T22:13:20.000Z\". The inverse of parse-iso-time.",
                  IsoTime);
  in.DefineNative("parse-iso-time", 1, 1,
                  "(parse-iso-time text) milliseconds since the epoch of ISO 8601 text with a "
                  "zone: \"2023-11-14T22:13:20Z\", \"...20.5Z\", \"...20+01:00\". An error "
                  "naming the text when it is not one.",
                  ParseIsoTime);
}

}  // namespace sx::host
