"""virsh's commands on the domain XML inside save images and managed-save images:
save-image-dumpxml, save-image-define, save-image-edit, managedsave-dumpxml,
managedsave-define and managedsave-edit."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from virtkit.cli._base import command, domain_argument, read_file
from virtkit.cli.state import CliState, CommandError

F = TypeVar("F", bound=Callable[..., Any])


def _start_state(running: bool, paused: bool) -> str | None:
    if running and paused:
        raise CommandError("Options --running and --paused are mutually exclusive")
    return "running" if running else "paused" if paused else None


def _start_options(fn: F) -> F:
    fn = click.option("--running", is_flag=True, help="Set the image to start running.")(fn)
    return click.option("--paused", is_flag=True, help="Set the image to start paused.")(fn)


def _print(state: CliState, xml: str) -> None:
    state.out(xml if xml.endswith("\n") else xml + "\n")


@command("save-image-dumpxml", help="Print the domain XML stored in a saved state file.")
@click.argument("file", metavar="FILE")
@click.option("--security-info", is_flag=True, help="Include security-sensitive information.")
def cmd_save_image_dumpxml(state: CliState, file: str, security_info: bool) -> None:
    with state.api():
        xml = state.conn.save_image_get_xml_desc(os.path.abspath(file),
                                                 security_info=security_info)
    _print(state, xml)


@command("save-image-define", help="Replace the domain XML stored in a saved state file.")
@click.argument("file", metavar="FILE")
@click.argument("xml_file", metavar="XML")
@_start_options
def cmd_save_image_define(
    state: CliState, file: str, xml_file: str, running: bool, paused: bool
) -> None:
    start_state = _start_state(running, paused)
    xml = read_file(xml_file, "XML file")
    with state.failing(f"Failed to update {file}"):
        state.conn.save_image_define_xml(os.path.abspath(file), xml, start_state)
    state.info(f"State file {file} updated.")


@command("save-image-edit", help="Edit the domain XML stored in a saved state file.")
@click.argument("file", metavar="FILE")
@_start_options
def cmd_save_image_edit(state: CliState, file: str, running: bool, paused: bool) -> None:
    from virtkit.cli.edit import edit_loop

    start_state = _start_state(running, paused)
    path = os.path.abspath(file)
    with state.api():
        original = state.conn.save_image_get_xml_desc(path, security_info=True)

    def redefine(xml: str, validate: bool) -> str:
        state.conn.save_image_define_xml(path, xml, start_state)
        return file

    if edit_loop(state, original, redefine) is None:
        if start_state is None:
            state.info(f"Saved image {file} XML configuration not changed.")
            return
        with state.failing(f"Failed to update {file}"):
            state.conn.save_image_define_xml(path, original, start_state)
    state.info(f"State file {file} edited.")


@command("managedsave-dumpxml", help="Print the domain XML stored in a managed save image.")
@domain_argument
@click.option("--security-info", is_flag=True, help="Include security-sensitive information.")
def cmd_managedsave_dumpxml(state: CliState, domain: str, security_info: bool) -> None:
    dom = state.domain(domain)
    with state.api():
        xml = dom.managed_save_get_xml_desc(security_info=security_info)
    _print(state, xml)


@command("managedsave-define", help="Replace the domain XML stored in a managed save image.")
@domain_argument
@click.argument("xml_file", metavar="XML")
@_start_options
def cmd_managedsave_define(
    state: CliState, domain: str, xml_file: str, running: bool, paused: bool
) -> None:
    start_state = _start_state(running, paused)
    xml = read_file(xml_file, "XML file")
    dom = state.domain(domain)
    with state.failing(f"Failed to update {dom.name} XML configuration"):
        dom.managed_save_define_xml(xml, start_state)
    state.info(f"Managed save state file of domain '{dom.name}' updated.")


@command("managedsave-edit", help="Edit the domain XML stored in a managed save image.")
@domain_argument
@_start_options
def cmd_managedsave_edit(state: CliState, domain: str, running: bool, paused: bool) -> None:
    from virtkit.cli.edit import edit_loop

    start_state = _start_state(running, paused)
    dom = state.domain(domain)
    with state.api():
        original = dom.managed_save_get_xml_desc(security_info=True)

    def redefine(xml: str, validate: bool) -> str:
        dom.managed_save_define_xml(xml, start_state)
        return dom.name

    if edit_loop(state, original, redefine) is None:
        if start_state is None:
            state.info(f"Managed save image of domain '{dom.name}' XML configuration not "
                       f"changed.")
            return
        with state.failing(f"Failed to update {dom.name} XML configuration"):
            dom.managed_save_define_xml(original, start_state)
    state.info(f"Managed save image of Domain '{dom.name}' XML configuration edited.")
