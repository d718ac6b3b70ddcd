#!/usr/bin/env bash
# Install Gatehouse on a gate unit (Raspberry Pi OS Bookworm / Debian 12), or into the
# file tree of an SD-card image with --root. Run as root from a checkout:
#
#   sudo firmware-config/install.sh [--root DIR] [--source DIR | --wheel FILE]
#        [--hub URL] [--ntp HOST] [--no-enable] [--no-steward]
#        [--python PYTHON] [--pip-args "ARGS"] [--[no-]system-site-packages]
#
#   --root DIR      install into the tree at DIR (a mounted image) instead of this
#                   machine; nothing is started and nothing of this machine changes
#   --source DIR    the Gatehouse checkout to install (default: the one holding this script)
#   --wheel FILE    install this wheel instead of building the checkout
#   --hub URL       the hub's URL; its host becomes the time server unless --ntp is given
#   --ntp HOST      the time server (default: the hub's host; neither: the distribution's)
#   --no-enable     install the units but enable (and mask) nothing
#   --no-steward    no steward console on tty1 (tty1 keeps its login prompt)
#   --python PY     the interpreter the virtualenv is made from (default /usr/bin/python3)
#   --pip-args ARGS extra arguments for pip, e.g. "--no-index --find-links /media/wheels"
#                   for a unit without internet
#   --system-site-packages / --no-system-site-packages
#                   whether the virtualenv sees apt's Python packages (python3-picamera2);
#                   default: yes on a Raspberry Pi (aarch64, armv7l, armv6l), no elsewhere
#
# It prints one line for each thing it did or kept. Running it again changes only what
# changed. docs/technicians.md ("Installing") explains each step.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(dirname "$here")

VENV=/opt/gatehouse
BLOCK_BEGIN="# >>> gatehouse (installed by firmware-config/install.sh; edit firmware-config/config.txt instead)"
BLOCK_END="# <<< gatehouse"
PINS_BEGIN="# >>> gatehouse pins (gate provision writes these from gate.toml; gate doctor checks them)"
PINS_END="# <<< gatehouse pins"
STEWARD_TTY=tty1

root=""
source_dir=""
wheel=""
hub=""
ntp=""
enable=1
steward=1
python=/usr/bin/python3
pip_args=""
site_packages=auto

say() { printf '%s\n' "$*"; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 2
}
usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --root | --source | --wheel | --hub | --ntp | --python | --pip-args)
      [ $# -ge 2 ] || die "$1 needs a value (see --help)"
      case "$1" in
        --root) root=$2 ;;
        --source) source_dir=$2 ;;
        --wheel) wheel=$2 ;;
        --hub) hub=$2 ;;
        --ntp) ntp=$2 ;;
        --python) python=$2 ;;
        --pip-args) pip_args=$2 ;;
      esac
      shift 2
      ;;
    --no-enable) enable=0 ;;&
    --no-steward) steward=0 ;;&
    --system-site-packages) site_packages=yes ;;&
    --no-system-site-packages) site_packages=no ;;&
    --no-enable | --no-steward | --system-site-packages | --no-system-site-packages) shift ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (sudo): it creates users and writes /etc and /opt"
[ -z "$source_dir" ] || [ -z "$wheel" ] || die "give --source or --wheel, not both"
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root: no such directory"
  root=$(cd "$root" && pwd)
  [ "$root" != / ] || root=""
fi
if [ -n "$wheel" ]; then
  [ -f "$wheel" ] || die "--wheel $wheel: no such file"
  wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
else
  source_dir=${source_dir:-$project}
  [ -f "$source_dir/pyproject.toml" ] || die "--source $source_dir: no pyproject.toml there"
  source_dir=$(cd "$source_dir" && pwd)
fi
for tool in systemd-sysusers systemd-tmpfiles systemctl; do
  command -v "$tool" >/dev/null ||
    die "$tool not found: this needs systemd (Debian: apt-get install systemd)"
done
"$python" -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null ||
  die "$python cannot make a virtualenv of Python 3.11 or newer" \
    "(Debian: apt-get install python3-venv)"

# The time server: --ntp, else the host of --hub's URL (no scheme, user, port or path).
if [ -z "$ntp" ] && [ -n "$hub" ]; then
  ntp=${hub#*://}
  ntp=${ntp%%/*}
  ntp=${ntp##*@}
  case "$ntp" in
    \[*\]*) ntp=${ntp#\[} && ntp=${ntp%%\]*} ;;
    *) ntp=${ntp%%:*} ;;
  esac
  [ -n "$ntp" ] || die "--hub $hub: no host in that URL"
fi
if [ -n "$ntp" ] && ! [[ "$ntp" =~ ^[A-Za-z0-9.:-]+$ ]]; then
  die "--ntp '$ntp' is not a host name or an IP address"
fi

machine=$(uname -m)
case "$machine" in
  aarch64 | armv7l | armv6l) on_pi_arch=1 ;;
  *) on_pi_arch=0 ;;
esac
if [ "$site_packages" = auto ]; then
  site_packages=no
  [ "$on_pi_arch" -eq 0 ] || site_packages=yes
fi

if [ -n "$root" ]; then
  say "installing into the tree at $root (paths below are inside it; nothing is started)"
  systemctl=(systemctl --root="$root")
  live=0
else
  systemctl=(systemctl)
  # A running systemd (not a container or chroot without one) gets reloaded and told.
  live=0
  [ ! -d /run/systemd/system ] || live=1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
units_changed=0
udev_changed=0

# put MODE SOURCE DEST: DEST (a path on the target) gets SOURCE's bytes and MODE, owned
# by root; an identical file is kept. Returns 1 when nothing changed.
put() {
  local mode=$1 src=$2 dest=$3
  local target=$root$dest
  if [ -f "$target" ] && cmp -s "$src" "$target"; then
    if [ "$(stat -c %a "$target")" != "${mode#0}" ]; then
      chmod "$mode" "$target"
      say "kept $dest (mode set to $mode)"
      return 0
    fi
    say "kept $dest (unchanged)"
    return 1
  fi
  local verb=installed
  [ ! -e "$target" ] || verb=updated
  install -D -m "$mode" -o root -g root "$src" "$target"
  say "$verb $dest"
}

# fill TEMPLATE: the template with @NTP_HOST@ replaced, as a file in $work
fill() {
  local out
  out=$work/$(basename "$(dirname "$1")")-$(basename "$1")
  sed "s|@NTP_HOST@|$ntp|g" "$1" >"$out"
  printf '%s' "$out"
}

# -- image checks ------------------------------------------------------------------------
# The virtualenv's interpreter and compiled packages (PyNaCl, OpenCV, numpy) are this
# machine's: an image of another architecture or Python cannot run them.
if [ -n "$root" ]; then
  image_python=$root/usr/bin/python3
  if [ -e "$image_python" ] || [ -L "$image_python" ]; then
    ours=$("$python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')
    theirs=$(basename "$(readlink "$image_python" || echo python3)")
    [ "$theirs" = "$ours" ] || [ "$theirs" = python3 ] ||
      die "the image's python3 is $theirs, this machine's $python is $ours:" \
        "build the image on a machine with $theirs"
    elf_machine() { od -An -tu2 -j18 -N2 "$1" | tr -d ' '; }
    image_machine=$(elf_machine "$root/usr/bin/$theirs" 2>/dev/null || true)
    host_machine=$(elf_machine "$(readlink -f "$python")")
    if [ -n "$image_machine" ] && [ "$image_machine" != "$host_machine" ]; then
      die "the image is for another architecture than this machine ($machine):" \
        "run install.sh on a unit of that kind, or inside the image" \
        "(systemd-nspawn -D $root, with qemu-user-static)"
    fi
  else
    say "no python3 in $root/usr/bin: the virtualenv is made for this machine" \
      "($machine, $("$python" -V 2>&1))"
  fi
fi

# -- the boot configuration, merged before anything changes -----------------------------
boot_config=""
if [ -f "$root/boot/firmware/config.txt" ]; then
  boot_config=/boot/firmware/config.txt
elif [ ! -d "$root/boot/firmware" ] && [ -f "$root/boot/config.txt" ]; then
  boot_config=/boot/config.txt # Raspberry Pi OS before Bookworm
fi
if [ -n "$boot_config" ]; then
  target=$root$boot_config
  merged=$work/config.txt
  # The fragment without its opening comment, in the block; an existing pins sub-block's
  # lines kept (gate provision wrote them); the rest of the file as it was.
  if ! awk -v begin="$BLOCK_BEGIN" -v end="$BLOCK_END" -v pbegin="$PINS_BEGIN" \
    -v pend="$PINS_END" -v fragment="$here/config.txt" '
    function emit(   line, header, inpins, i) {
      print begin
      header = 1
      while ((getline line < fragment) > 0) {
        if (header) { if (line ~ /^#/) continue; header = 0; if (line == "") continue }
        if (line == pbegin) {
          print line
          if (kept) for (i = 0; i < npins; i++) print pins[i]
          inpins = 1
          continue
        }
        if (line == pend) { inpins = 0; print line; continue }
        if (inpins && kept) continue
        print line
      }
      close(fragment)
      print end
    }
    {
      line = $0; sub(/\r$/, "", line)
      if (state == 0) {
        if (line == begin) { state = 1; blocks++; next }
        print; last = line; next
      }
      if (state == 1) {
        if (line == pbegin && blocks == 1) { state = 2; next }
        if (line == end) { state = 0; if (blocks == 1) emit(); next }
        next
      }
      if (line == pend) { state = 1; kept = 1; next }
      pins[npins++] = $0
    }
    END {
      if (state != 0) exit 3
      if (!blocks) { if (NR && last != "") print ""; emit() }
    }' "$target" >"$merged"; then
    die "$boot_config has '$BLOCK_BEGIN' without its end line '$BLOCK_END'" \
      "(or a pins line without its end): fix it by hand"
  fi
fi

# -- users, groups, directories ----------------------------------------------------------
put 0644 "$project/systemd/sysusers.d/gatehouse.conf" /etc/sysusers.d/gatehouse.conf || true
for user in gatehouse gatehouse-steward; do
  if grep -q "^$user:" "$root/etc/passwd" 2>/dev/null; then say "kept user $user"; fi
done
# It names what it creates ("Creating user 'gatehouse' ... with UID 999 ..."), and is
# silent about what exists.
systemd-sysusers ${root:+--root="$root"} gatehouse.conf 2>&1 | sed 's/^Creating/created/; s/\.$//'
put 0644 "$project/systemd/tmpfiles.d/gatehouse.conf" /etc/tmpfiles.d/gatehouse.conf || true
verb=kept
[ -d "$root/etc/gatehouse" ] && [ -d "$root/var/lib/gatehouse" ] || verb=made
systemd-tmpfiles ${root:+--root="$root"} --create gatehouse.conf
say "$verb /etc/gatehouse (0755, root) and /var/lib/gatehouse (0700, gatehouse)"

# -- the virtualenv and Gatehouse in it --------------------------------------------------
vroot=$root$VENV
if [ -x "$vroot/bin/python" ]; then
  made_with=$(sed -n 's/^include-system-site-packages *= *//p' "$vroot/pyvenv.cfg")
  want=$([ "$site_packages" = yes ] && echo true || echo false)
  note=""
  [ "$made_with" = "$want" ] ||
    note="; it was made with include-system-site-packages = $made_with"
    note+=": remove $VENV and run again to change that"
  say "kept virtualenv $VENV$note"
else
  venv_args=()
  [ "$site_packages" = no ] || venv_args+=(--system-site-packages)
  "$python" -m venv "${venv_args[@]}" "$vroot"
  say "created virtualenv $VENV ($("$python" -V 2>&1)${venv_args[*]:+, ${venv_args[*]}})"
fi

extras=scanner,hardware,steward,fast,peers
extra_reqs=()
if [ "$on_pi_arch" -eq 1 ]; then
  # RPi.GPIO on a Pi 1-4; a Pi 5 has another GPIO chip and takes rpi-lgpio (same module).
  if [ -z "$root" ] && grep -qa "Raspberry Pi 5" /proc/device-tree/model 2>/dev/null; then
    extra_reqs+=(rpi-lgpio)
  else
    extras=$extras,pi
  fi
fi
if [ -n "$wheel" ]; then
  spec="${wheel}[$extras]"
  what="$(basename "$wheel")"
else
  # Built from a copy: a checkout on a read-only stick works, and it gets no build/ folder.
  mkdir "$work/source"
  tar -C "$source_dir" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=./tests --exclude=./bench \
    -cf - . | tar -C "$work/source" -xf -
  spec="${work}/source[$extras]"
  what="$source_dir"
fi
read -r -a pip_extra <<<"$pip_args"
"$vroot/bin/python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
  --root-user-action=ignore "${pip_extra[@]}" "$spec" "${extra_reqs[@]}"
# pip notes the temporary path it installed from (direct_url.json); it means nothing on
# the unit and would make every run differ.
for record in "$vroot"/lib/python3*/site-packages/gatehouse-*.dist-info/RECORD; do
  [ -f "$record" ] || continue
  rm -f "$(dirname "$record")/direct_url.json"
  sed -i '/\/direct_url\.json,/d' "$record"
done
version=$("$vroot/bin/python" -c \
  'from importlib.metadata import version; print(version("gatehouse"))')
say "installed gatehouse $version [$extras${extra_reqs[*]:+ + ${extra_reqs[*]}}]" \
  "from $what into $VENV"
if [ -n "$root" ]; then
  # Made at $root/opt/gatehouse, run at /opt/gatehouse: scripts and activate files say so.
  while IFS= read -r -d '' file; do
    if grep -IqF -- "$vroot" "$file"; then
      sed -i "s|$vroot|$VENV|g" "$file"
    fi
  done < <(find "$vroot/bin" "$vroot/pyvenv.cfg" -maxdepth 1 -type f -print0)
  # Compiled modules name their source files in tracebacks: the paths on the unit.
  "$vroot/bin/python" -m compileall -q -f -s "$root" -p / "$vroot/lib" >/dev/null || true
  say "pointed the virtualenv's scripts and compiled modules at $VENV"
fi
if [ "$(readlink "$root/usr/local/bin/gate" 2>/dev/null)" = "$VENV/bin/gate" ]; then
  say "kept /usr/local/bin/gate -> $VENV/bin/gate"
else
  mkdir -p "$root/usr/local/bin"
  ln -sfn "$VENV/bin/gate" "$root/usr/local/bin/gate"
  say "linked /usr/local/bin/gate -> $VENV/bin/gate"
fi
for doc in "$project"/docs/*.md; do
  put 0644 "$doc" "$VENV/share/doc/gatehouse/$(basename "$doc")" >/dev/null || true
done
say "installed the documentation in $VENV/share/doc/gatehouse"

# -- systemd units -----------------------------------------------------------------------
for unit in gatehouse.service gatehouse-steward@.service; do
  if put 0644 "$project/systemd/$unit" "/etc/systemd/system/$unit"; then units_changed=1; fi
done
if put 0644 "$here/system.conf.d/gatehouse-watchdog.conf" \
  /etc/systemd/system.conf.d/gatehouse-watchdog.conf; then
  say "  the hardware watchdog is fed by systemd from the next boot"
fi

# -- device names ------------------------------------------------------------------------
if put 0644 "$here/udev/99-gatehouse.rules" /etc/udev/rules.d/99-gatehouse.rules; then
  udev_changed=1
fi

# -- time --------------------------------------------------------------------------------
if [ -n "$ntp" ]; then
  put 0644 "$(fill "$here/timesyncd.conf.d/gatehouse.conf")" \
    /etc/systemd/timesyncd.conf.d/gatehouse.conf || true
  if [ -d "$root/etc/chrony" ]; then
    put 0644 "$(fill "$here/chrony.d/gatehouse.conf")" /etc/chrony/conf.d/gatehouse.conf || true
  fi
  say "time from $ntp"
elif [ -f "$root/etc/systemd/timesyncd.conf.d/gatehouse.conf" ]; then
  say "kept /etc/systemd/timesyncd.conf.d/gatehouse.conf (no --ntp or --hub given)"
else
  say "time from the distribution's servers (no --ntp or --hub given)"
fi

# -- the boot configuration --------------------------------------------------------------
if [ -z "$boot_config" ]; then
  say "no /boot/firmware/config.txt: not a Raspberry Pi image, no boot configuration written"
else
  had_block=$(grep -cxF -- "$BLOCK_BEGIN" "$target" || true)
  had_pins=$(grep -cxF -- "$PINS_BEGIN" "$target" || true)
  if cmp -s "$merged" "$target"; then
    say "kept the gatehouse block in $boot_config (unchanged)"
  else
    if [ ! -e "$target.before-gatehouse" ]; then
      cp -p "$target" "$target.before-gatehouse"
      say "saved $boot_config as $boot_config.before-gatehouse"
    fi
    cat "$merged" >"$target"
    if [ "$had_block" -gt 0 ]; then
      say "replaced the gatehouse block in $boot_config (takes effect at the next boot)"
    else
      say "added the gatehouse block to $boot_config (takes effect at the next boot)"
    fi
  fi
  if [ "$had_pins" -gt 0 ]; then
    say "kept the pins in $boot_config as they were (gate provision writes them)"
  else
    say "default pins in $boot_config: relay GPIO17 high, lamps and buzzer GPIO22-24 low," \
      "sensor GPIO27 pull-up"
  fi
fi

# -- enable ------------------------------------------------------------------------------
enable_units=(gatehouse.service)
[ "$steward" -eq 0 ] || enable_units+=("gatehouse-steward@$STEWARD_TTY.service")
if [ "$live" -eq 1 ] && [ "$units_changed" -eq 1 ]; then
  systemctl daemon-reload
  say "reloaded systemd"
fi
if [ "$enable" -eq 0 ]; then
  say "enabled nothing (--no-enable)"
else
  for unit in "${enable_units[@]}"; do
    if [ "$("${systemctl[@]}" is-enabled "$unit" 2>/dev/null || true)" = enabled ]; then
      say "kept $unit enabled"
    else
      "${systemctl[@]}" --quiet enable "$unit"
      say "enabled $unit (starts at boot)"
    fi
  done
  if [ "$steward" -eq 1 ]; then
    # The console holds the terminal; a login prompt there would fight it for it.
    for getty in "getty@$STEWARD_TTY.service" "autovt@$STEWARD_TTY.service"; do
      if [ "$("${systemctl[@]}" is-enabled "$getty" 2>/dev/null || true)" = masked ]; then
        say "kept $getty masked"
      else
        "${systemctl[@]}" --quiet mask "$getty"
        say "masked $getty (the steward console has $STEWARD_TTY)"
      fi
    done
  fi
fi
if [ "$live" -eq 1 ] && [ "$udev_changed" -eq 1 ] && command -v udevadm >/dev/null; then
  udevadm control --reload
  udevadm trigger --action=add --subsystem-match=tty --subsystem-match=video4linux \
    --subsystem-match=gpio
  say "reloaded the udev rules (replug a device if its /dev/gatehouse-* name is missing)"
fi

if [ ! -f "$root/etc/gatehouse/gate.toml" ]; then
  say "next: gate provision (writes /etc/gatehouse/gate.toml), then systemctl start gatehouse"
else
  say "kept /etc/gatehouse/gate.toml"
fi
