# store_url.sh — sourced by the acceptance scripts that can run on
# PostgreSQL as well as on the embedded store: fresh schemas on a server
# URL, and the URL as messages may show it.
#
#   is_pg_url LOCATION          true for postgres:// and postgresql:// URLs
#   url_for_messages URL        the URL without its password
#   url_with_schema URL NAME    URL with its schema=... (if any) replaced by
#                               schema=NAME (sx takes it out before libpq)
#   drop_schemas URL...         DROP SCHEMA ... CASCADE of each URL's schema
#                               (all on the first URL's server), through psql;
#                               non-zero, saying why in one line, when it could not

is_pg_url() {
  case "$1" in postgres://* | postgresql://*) return 0 ;; *) return 1 ;; esac
}

url_for_messages() {
  local url=$1 scheme rest
  scheme=${url%%://*}
  rest=${url#*://}
  case "$rest" in
    *@*)
      local auth=${rest%%@*}
      echo "$scheme://${auth%%:*}@${rest#*@}"
      ;;
    *) echo "$url" ;;
  esac
}

# The URL without its schema parameter: what libpq (and psql) accept.
url_without_schema() {
  local url=$1 base query kept="" param
  case "$url" in
    *\?*) base=${url%%\?*} query=${url#*\?} ;;
    *) echo "$url"; return ;;
  esac
  local IFS='&'
  for param in $query; do
    case "$param" in schema=* | "") ;; *) kept+="${kept:+&}$param" ;; esac
  done
  echo "$base${kept:+?$kept}"
}

url_with_schema() {
  local base
  base=$(url_without_schema "$1")
  case "$base" in *\?*) echo "$base&schema=$2" ;; *) echo "$base?schema=$2" ;; esac
}

drop_schemas() {
  [ $# -gt 0 ] || return 0
  if ! command -v psql >/dev/null 2>&1; then
    echo "drop_schemas: no psql (Debian's postgresql-client): $# schemas left on the server" >&2
    return 1
  fi
  local url schema sql=()
  for url in "$@"; do
    schema=${url##*schema=}
    sql+=(-c "DROP SCHEMA IF EXISTS ${schema%%&*} CASCADE")
  done
  local out
  if ! out=$(psql "$(url_without_schema "$1")" -qAt -v ON_ERROR_STOP=1 \
    -c "SET client_min_messages = warning" "${sql[@]}" 2>&1); then
    echo "drop_schemas: $# schemas may be left on the server: $(echo "$out" | head -n 1)" >&2
    return 1
  fi
}
