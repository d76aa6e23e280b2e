from __future__ import annotations

import pytest

from dockernb.present.gotemplate import Struct, TemplateError, render, tabwrite


def test_fields_and_functions() -> None:
    data = {"Name": "/web", "Config": {"Cmd": ["sh"], "Labels": {"a": "1"}}, "State": {"Pid": 12}}
    assert render("{{.Name}} {{.Config.Cmd}} {{.State.Pid}}", data) == "/web [sh] 12"
    assert render("{{json .Config.Labels}}", data) == '{"a":"1"}'
    assert render('{{index .Config.Labels "a"}}', data) == "1"
    assert render('{{join .Config.Cmd ","}}|{{upper "x"}}|{{.Missing}}', data) == "sh|X|<no value>"
    assert render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", data) == "a=1;"
    assert render("{{if .State.Pid}}up{{else}}down{{end}}", data) == "up"
    assert render("{{if eq .Name \"/x\"}}x{{else if eq .Name \"/web\"}}w{{end}}", data) == "w"
    assert render("{{with .Config}}{{.Cmd}}{{end}}", data) == "[sh]"
    assert render("{{.Name | printf \"%q\"}}", data) == '"/web"'
    assert render("a {{- \" b \" -}} c", {}) == "a b c"


def test_struct_missing_field_is_gos_error() -> None:
    ctx = Struct("*formatter.ContainerContext", {"Names": "x"})
    with pytest.raises(TemplateError) as err:
        render("{{.Nope}}", ctx)
    assert str(err.value) == (
        'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext'
    )


def test_tabwriter_matches_docker_images_layout() -> None:
    rows = ["REPOSITORY\tTAG\tIMAGE ID", "127.0.0.1:5000/busybox\tlatest\t0123456789ab", "busybox\tlatest\tx"]
    out = tabwrite(rows).splitlines()
    assert out[0] == "REPOSITORY               TAG       IMAGE ID"
    assert out[1] == "127.0.0.1:5000/busybox   latest    0123456789ab"


def test_json_of_a_missing_key_is_null_not_an_error() -> None:
    assert render("{{json .Attrs.missing}}|{{.Attrs.missing}}", {"Attrs": {"name": "x"}}) == "null|<no value>"
