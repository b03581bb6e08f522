#!/usr/bin/env bash
# Backup drill (docs/OPERATIONS.md, "Backup and restore"): for SQLite and for MySQL, seed
# the demo into a fresh database, back it up with `xiadan backup`, restore the backup into
# another fresh database with `xiadan restore`, and check that `xiadan summary` (rows per
# table, sums of order totals, payments, refunds, balances) is the same for both.
# MySQL is reached as BACKUP_DRILL_MYSQL (default root@127.0.0.1:3306, no password) and
# needs the mariadb/mysql client and mariadb-dump/mysqldump; without them that half is
# skipped with a message, unless CI=true, where it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
mysql_target=${BACKUP_DRILL_MYSQL:-root@127.0.0.1:3306}
mysql_user=${mysql_target%%@*}
mysql_hostport=${mysql_target#*@}
mysql_host=${mysql_hostport%:*}
mysql_port=${mysql_hostport##*:}
suffix="$$_$RANDOM"
src_db="xiadan_drill_src_$suffix"
dst_db="xiadan_drill_dst_$suffix"
client=$(command -v mariadb || command -v mysql || true)

cleanup() {
  if [ -n "$client" ]; then
    "$client" --protocol=TCP -h "$mysql_host" -P "$mysql_port" -u "$mysql_user" \
      -e "DROP DATABASE IF EXISTS $src_db; DROP DATABASE IF EXISTS $dst_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export LOG_LEVEL=warn XIADAN_DATA_DIR="$work/data"
go build -o "$work/xiadan" .
xiadan() { "$work/xiadan" "$@"; }

# drill URL_SOURCE URL_TARGET BACKUP_FILE NAME
drill() {
  local src=$1 dst=$2 file=$3 name=$4
  DATABASE_URL=$src xiadan seed >"$work/$name.seed.log" 2>&1 || { cat "$work/$name.seed.log" >&2; exit 1; }
  DATABASE_URL=$src xiadan backup "$file"
  DATABASE_URL=$dst xiadan restore "$file"
  DATABASE_URL=$src xiadan summary >"$work/$name.src"
  DATABASE_URL=$dst xiadan summary >"$work/$name.dst"
  # A summary without orders and payments would prove nothing.
  grep -Eq '^rows orders [1-9]' "$work/$name.src" || { echo "backup-drill: $name: the demo seeded no orders" >&2; exit 1; }
  grep -Eq '^sum orders\.[a-z_]*total[a-z_]* [1-9]' "$work/$name.src" || { echo "backup-drill: $name: no order totals" >&2; exit 1; }
  if ! diff -u "$work/$name.src" "$work/$name.dst"; then
    echo "backup-drill: $name: the restored database differs from its source" >&2
    exit 1
  fi
  echo "backup-drill: $name: restored $(grep -c '^rows ' "$work/$name.src") tables, $(grep -c '^sum ' "$work/$name.src") money columns equal ($(grep -E '^rows orders ' "$work/$name.src"))"
}

# The two drills wait mostly on their databases, so they run side by side.
drill "sqlite://$work/source.db" "sqlite://$work/restored.db" "$work/sqlite.backup" sqlite &
sqlite_pid=$!

dump=$(command -v mariadb-dump || command -v mysqldump || true)
mysql_status=0
if [ -z "$client" ] || [ -z "$dump" ]; then
  if [ "${CI:-}" = true ]; then echo "backup-drill: the MySQL client tools are missing" >&2; mysql_status=1
  else echo "backup-drill: no mariadb/mysql client tools; skipping the MySQL drill"; fi
else
  "$client" --protocol=TCP -h "$mysql_host" -P "$mysql_port" -u "$mysql_user" \
    -e "CREATE DATABASE $src_db; CREATE DATABASE $dst_db"
  base="mysql://$mysql_user@$mysql_host:$mysql_port"
  drill "$base/$src_db" "$base/$dst_db" "$work/mysql.sql" mysql &
  wait $! || mysql_status=$?
fi
sqlite_status=0
wait "$sqlite_pid" || sqlite_status=$?
[ "$sqlite_status" = 0 ] && [ "$mysql_status" = 0 ]
