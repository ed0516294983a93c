// migrations.h — the schema migrations of the PostgreSQL backend, embedded
// from host/pg/sql/NNN_name.sql by host/pg/embed_sql.cmake.
#pragma once

namespace sx::pg {

struct Migration {
  int version;       // the schema version after this migration
  const char* name;  // file name, for messages
  const char* sql;
};

// In version order; ends with {0, nullptr, nullptr}.
const Migration* Migrations();

}  // namespace sx::pg
