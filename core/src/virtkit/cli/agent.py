"""virsh's guest agent commands: domfsinfo, domfsfreeze, domfsthaw, domfstrim, domtime,
set-user-password, get-user-sshkeys, set-user-sshkeys, guestinfo, guestvcpus and
domhostname."""

from __future__ import annotations

import time

import click

from virtkit.cli._base import command, domain_argument, json_option, read_file
from virtkit.cli.fmt import table
from virtkit.cli.state import CliState, CommandError


@command("domfsinfo", help="Print the guest's mounted filesystems (guest agent).")
@domain_argument
@json_option
def cmd_domfsinfo(state: CliState, domain: str, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.failing("Unable to get filesystem information"):
        filesystems = dom.fs_info()
    if as_json:
        state.json([{"mountpoint": f.mountpoint, "name": f.name, "type": f.fstype,
                     "target": f.devices} for f in filesystems])
        return
    state.out(table(("Mountpoint", "Name", "Type", "Target"),
                    [(f.mountpoint, f.name, f.fstype, ",".join(f.devices))
                     for f in filesystems]))


@command("domfsfreeze", help="Freeze the guest's filesystems (guest agent).")
@domain_argument
@click.option("--mountpoint", "mountpoints", multiple=True, metavar="PATH",
              help="Only this mount point (repeatable).")
def cmd_domfsfreeze(state: CliState, domain: str, mountpoints: tuple[str, ...]) -> None:
    dom = state.domain(domain)
    with state.failing("Unable to freeze filesystems"):
        count = dom.fs_freeze(list(mountpoints))
    state.info(f"Froze {count} filesystem(s)")


@command("domfsthaw", help="Thaw the guest's frozen filesystems (guest agent).")
@domain_argument
@click.option("--mountpoint", "mountpoints", multiple=True, metavar="PATH",
              help="Only this mount point (repeatable).")
def cmd_domfsthaw(state: CliState, domain: str, mountpoints: tuple[str, ...]) -> None:
    dom = state.domain(domain)
    with state.failing("Unable to thaw filesystems"):
        count = dom.fs_thaw(list(mountpoints))
    state.info(f"Thawed {count} filesystem(s)")


@command("domfstrim", help="Discard the guest filesystems' unused blocks (guest agent).")
@domain_argument
@click.option("--minimum", type=click.IntRange(min=0), default=0,
              help="Keep free ranges shorter than this many bytes.")
@click.option("--mountpoint", metavar="PATH", help="Only this mount point.")
def cmd_domfstrim(state: CliState, domain: str, minimum: int, mountpoint: str | None) -> None:
    dom = state.domain(domain)
    with state.failing(f"Unable to invoke fstrim on domain '{dom.name}'"):
        dom.fs_trim(mountpoint, minimum)


@command("domtime", help="Print or set the guest's clock (guest agent).")
@domain_argument
@click.option("--now", is_flag=True, help="Set the clock to the host's time.")
@click.option("--pretty", is_flag=True, help="Print the time as a date.")
@click.option("--sync", is_flag=True, help="Resynchronise the clock from the guest's RTC.")
@click.option("--time", "seconds", type=click.IntRange(min=0), metavar="SECONDS",
              help="Set the clock to this many seconds since the epoch.")
@json_option
def cmd_domtime(state: CliState, domain: str, now: bool, pretty: bool, sync: bool,
                seconds: int | None, as_json: bool) -> None:
    if sum((now, sync, seconds is not None)) > 1:
        raise CommandError("Options --now, --sync and --time are mutually exclusive", status=1)
    dom = state.domain(domain)
    if now or sync or seconds is not None:
        if pretty:
            raise CommandError("Options --pretty and --now|--sync|--time are mutually "
                               "exclusive", status=1)
        when = {"seconds": int(time.time()), "nseconds": 0} if now else (
            None if sync else {"seconds": seconds or 0, "nseconds": 0})
        with state.api():
            dom.set_time(when, sync=sync)
        return
    with state.api():
        got = dom.get_time()
    if as_json:
        state.json(got)
        return
    state.trailer = False  # virsh prints no blank line after domtime
    if pretty:
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(got["seconds"]))
        state.out(f"Time: {text}\n")
    else:
        state.out(f"Time: {got['seconds']}\n")


@command("set-user-password", help="Set a guest user's password (guest agent).")
@domain_argument
@click.argument("user")
@click.argument("password")
@click.option("--encrypted", is_flag=True, help="The password is already crypt(3)-encrypted.")
def cmd_set_user_password(state: CliState, domain: str, user: str, password: str,
                          encrypted: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        dom.set_user_password(user, password, encrypted)
    state.trailer = False  # virsh prints no blank line after it
    state.info(f"Password set successfully for {user} in {dom.name}")


GUESTINFO_FLAGS = (("user", "users"), ("os", "os"), ("timezone", "timezone"),
                   ("hostname", "hostname"), ("filesystem", "filesystem"), ("disk", "disks"),
                   ("interface", "interfaces"))


@command("guestinfo", help="Print what the guest agent knows of the guest.")
@domain_argument
@click.option("--user", is_flag=True, help="Logged-in users.")
@click.option("--os", "os_", is_flag=True, help="Operating system.")
@click.option("--timezone", is_flag=True, help="Time zone.")
@click.option("--hostname", is_flag=True, help="Hostname.")
@click.option("--filesystem", is_flag=True, help="Filesystems.")
@click.option("--disk", is_flag=True, help="Disks.")
@click.option("--interface", is_flag=True, help="Network interfaces.")
@json_option
def cmd_guestinfo(state: CliState, domain: str, user: bool, os_: bool, timezone: bool,
                  hostname: bool, filesystem: bool, disk: bool, interface: bool,
                  as_json: bool) -> None:
    chosen = dict(zip((f for f, _ in GUESTINFO_FLAGS),
                      (user, os_, timezone, hostname, filesystem, disk, interface), strict=True))
    types = [kind for flag, kind in GUESTINFO_FLAGS if chosen[flag]]
    dom = state.domain(domain)
    with state.api():
        info = dom.guest_info(types)
    if as_json:
        state.json(info)
        return
    state.out("".join(f"{key:<20}: {_value(value)}\n" for key, value in info.items()))


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@command("get-user-sshkeys", help="List a guest user's authorized SSH keys (guest agent).")
@domain_argument
@click.argument("user", metavar="USER")
@json_option
def cmd_get_user_sshkeys(state: CliState, domain: str, user: str, as_json: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        keys = dom.authorized_ssh_keys_get(user)
    if as_json:
        state.json(keys)
        return
    state.out("".join(key + "\n" for key in keys))


@command("set-user-sshkeys",
         help="Append, reset or remove a guest user's authorized SSH keys (guest agent).")
@domain_argument
@click.argument("user", metavar="USER")
@click.option("--file", "file", metavar="FILE", help="The keys, one a line ('#' comments).")
@click.option("--reset", is_flag=True, help="Replace the keys (none without --file).")
@click.option("--remove", is_flag=True, help="Remove the keys of --file.")
def cmd_set_user_sshkeys(state: CliState, domain: str, user: str, file: str | None,
                         reset: bool, remove: bool) -> None:
    if remove and file is None:
        raise CommandError("Option --file is required by option --remove")
    if reset and remove:
        raise CommandError("Options --reset and --remove are mutually exclusive")
    if not (reset or remove) and file is None:
        raise CommandError("Option --file is required")
    keys = []
    if file is not None:
        keys = [line for line in read_file(file).splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    dom = state.domain(domain)
    with state.api():
        dom.authorized_ssh_keys_set(user, keys, append=not (reset or remove), remove=remove)


@command("guestvcpus", help="Print or set the guest's view of its vcpus (guest agent).")
@domain_argument
@click.option("--cpulist", help="The vcpus to enable or disable (1-3,^2).")
@click.option("--enable", is_flag=True, help="Bring the vcpus of --cpulist online.")
@click.option("--disable", is_flag=True, help="Take the vcpus of --cpulist offline.")
@json_option
def cmd_guestvcpus(state: CliState, domain: str, cpulist: str | None, enable: bool,
                   disable: bool, as_json: bool) -> None:
    if enable and disable:
        raise CommandError("Options --enable and --disable are mutually exclusive")
    if (enable or disable) and cpulist is None:
        raise CommandError(f"Option --cpulist is required by option "
                           f"--{'enable' if enable else 'disable'}")
    if cpulist is not None and not (enable or disable):
        raise CommandError("One of options --enable or --disable is required by option "
                           "--cpulist")
    dom = state.domain(domain)
    if cpulist is not None:
        with state.api():
            dom.set_guest_vcpus(cpulist, 1 if enable else 0)
        return
    with state.api():
        info = dom.guest_vcpus()
    if as_json:
        state.json(info)
        return
    state.out("".join(f"{key:<15}: {value}\n" for key, value in info.items()))


@command("domhostname", help="Print the guest's hostname.")
@domain_argument
@click.option("--source", type=click.Choice(["agent", "lease"]), default="agent",
              show_default=True, help="Where the hostname comes from.")
def cmd_domhostname(state: CliState, domain: str, source: str) -> None:
    dom = state.domain(domain)
    with state.failing("failed to get hostname"):
        state.out(dom.hostname(source) + "\n")
