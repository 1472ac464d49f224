"""``runner secrets keygen|encrypt|edit|rekey|check`` through main(), in temp dirs: keys, files, the editor's
scratch file, every refusal (exit 2, file untouched, no traceback), and no plaintext in any output."""

from __future__ import annotations

import io
import os
import shlex
import stat
import textwrap
from pathlib import Path

import pytest

from runner.cli.main import main
from runner.secrets import age
from runner.secrets.yamltext import parse, render_block, render_flow

PLAINTEXT = "pl41n-t3xt-never-shown"


class Key:
    def __init__(self) -> None:
        self.secret, self.public = age.generate()
        self.identities = age.Identities((age.x25519.Identity.from_str(self.secret),), ("test",))

    def decrypt(self, armored: str) -> str:
        return age.decrypt(armored, self.identities)


@pytest.fixture
def me() -> Key:
    return Key()


@pytest.fixture
def other() -> Key:
    return Key()


@pytest.fixture
def outputs() -> list[str]:
    """Everything the commands printed (stdout and stderr), to scan for the plaintext at the end."""
    return []


@pytest.fixture
def run(capsys, monkeypatch, outputs, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(age.KEY_FILE_ENV, raising=False)

    def run(*argv: str, stdin: str | io.StringIO = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin) if isinstance(stdin, str) else stdin)
        code = main(list(argv))
        out, err = capsys.readouterr()
        outputs.extend((out, err))
        assert "Traceback" not in err
        return code, out, err

    yield run
    assert not any(PLAINTEXT in text for text in outputs)


@pytest.fixture
def stack(tmp_path, monkeypatch, me) -> Path:
    """A stack with one value encrypted for ``me``, in a block, and one in a flow mapping; ``me`` at hand."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(age.KEY_ENV, me.secret)
    armored = age.encrypt(PLAINTEXT, [me.public])
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent("""\
        # shop
        stack:
          name: shop    # kept
          secrets:
            recipients:
              - {me}
          custom_json:
            api: {{token: {flow}, url: "https://x"}}

        apps:
          web:
            environment:
              GREETING: hi
              DB_PASSWORD: {block}
              # after
        """).format(me=me.public, flow=render_flow(armored), block=render_block(armored, 8)))
    path.chmod(0o640)
    return path


def values(path: Path):
    return {v.dotted: v for v in parse(path.read_text(), str(path)).values}


# -- keygen ---------------------------------------------------------------------


def test_keygen_writes_a_0600_identity_and_refuses_to_overwrite_it(run, tmp_path):
    old = os.umask(0)  # even with no umask at all the key is never readable by others
    try:
        code, out, err = run("secrets", "keygen")
    finally:
        os.umask(old)
    key = tmp_path / "home/.config/runner/age.key"
    assert code == 0 and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    public = out.strip()
    text = key.read_text()
    assert f"# public key: {public}\n" in text
    assert age.public_key(text.splitlines()[-1]) == public
    assert "AGE-SECRET-KEY" not in out + err

    code, _, err = run("secrets", "keygen")
    assert code == 2 and "already exists" in err and key.read_text() == text
    code, out, _ = run("secrets", "keygen", "--force")
    assert code == 0 and out.strip() != public and f"# public key: {out.strip()}" in key.read_text()
    assert not [p for p in key.parent.iterdir() if p.name != "age.key"]  # no temp file left


def test_keygen_writes_where_runner_age_key_file_points_or_output(run, tmp_path, monkeypatch):
    monkeypatch.setenv(age.KEY_FILE_ENV, str(tmp_path / "ci.key"))
    assert run("secrets", "keygen")[0] == 0 and (tmp_path / "ci.key").is_file()
    assert run("secrets", "keygen", "--output", str(tmp_path / "x/y.key"))[0] == 0
    assert stat.S_IMODE((tmp_path / "x/y.key").stat().st_mode) == 0o600
    assert age.load_identities({age.KEY_FILE_ENV: str(tmp_path / "x/y.key")}).keys


# -- encrypt --------------------------------------------------------------------


def test_encrypt_reads_stdin_and_prints_yaml_that_decrypts_to_it(run, stack, me, other):
    code, out, err = run("secrets", "encrypt", "--recipient", other.public, stdin=PLAINTEXT + "\n")
    assert code == 0 and out.startswith("!encrypted |\n  -----BEGIN AGE ENCRYPTED FILE-----\n")
    assert "2 recipient" in err
    pasted = parse(f"DB: {out}", "pasted.yml").values[0].armored
    assert me.decrypt(pasted) == PLAINTEXT == other.decrypt(pasted)

    code, out, _ = run("secrets", "encrypt", "--inline", "-f", str(stack), stdin=PLAINTEXT)
    assert code == 0 and out.count("\n") == 1
    assert me.decrypt(parse(f"x: {{a: {out.strip()}}}", "p").values[0].armored) == PLAINTEXT


def test_encrypt_refuses_no_recipients_a_bad_one_and_an_empty_value(run, tmp_path, monkeypatch, other):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yml").write_text("stack:\n  name: x\n")
    code, _, err = run("secrets", "encrypt", stdin="v")
    assert code == 2 and "no recipients" in err and "stack.secrets.recipients" in err
    (tmp_path / "stack.yml").write_text(f"stack:\n  secrets:\n    recipients: [{other.public}, age1nope]\n")
    code, _, err = run("secrets", "encrypt", stdin="v")
    where = f"stack.yml:3:{20 + len(other.public)}"
    assert code == 2 and err.startswith(f"{where}: stack.secrets.recipients[1]: not an age public key")
    code, _, err = run("secrets", "encrypt", "-f", "missing.yml", "--recipient", "age1bad", stdin="v")
    assert code == 2 and "--recipient age1bad: not an age public key" in err
    code, out, _ = run("secrets", "encrypt", "-f", "missing.yml", "--recipient", other.public, stdin="v")
    assert code == 0 and other.decrypt(parse(f"x: {out}", "p").values[0].armored) == "v"
    code, _, err = run("secrets", "encrypt", "-f", "missing.yml", "--recipient", other.public, stdin="\n")
    assert code == 2 and "empty" in err


# -- edit -----------------------------------------------------------------------


def editor(tmp_path: Path, script: str) -> str:
    """An $EDITOR that logs the file it got, with its mode and its directory's, then runs ``script``."""
    log = tmp_path / "editor.log"
    body = f'printf "%s %s %s\\n" "$1" "$(stat -c %a "$1")" "$(stat -c %a "$(dirname "$1")")" >> {log}; {script}'
    return f"sh -c {shlex.quote(body)} sh"


def logged(tmp_path: Path) -> list[tuple[Path, str, str]]:
    lines = (tmp_path / "editor.log").read_text().splitlines()
    return [(Path(a), b, c) for a, b, c in (line.split() for line in lines)]


def test_edit_changes_only_that_values_bytes(run, stack, tmp_path, monkeypatch, me):
    before = stack.read_text()
    old = values(stack)["apps.web.environment.DB_PASSWORD"]
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'printf new > "$1"'))
    code, _, err = run("secrets", "edit", "apps.web.environment.DB_PASSWORD")
    assert code == 0 and "stack.yml:14:20: apps.web.environment.DB_PASSWORD: re-encrypted" in err
    after = stack.read_text()
    new = values(stack)["apps.web.environment.DB_PASSWORD"]
    assert me.decrypt(new.armored) == "new"
    assert after[:new.start] == before[:old.start] and after[new.end:] == before[old.end:]
    assert stat.S_IMODE(stack.stat().st_mode) == 0o640
    [(scratch, mode, dir_mode)] = logged(tmp_path)
    assert (mode, dir_mode) == ("600", "700") and not scratch.parent.exists()
    if Path("/dev/shm").is_dir():
        assert scratch.parent.parent == Path("/dev/shm")


def test_edit_a_flow_value_the_editor_adds_a_line_break_and_an_unchanged_value(run, stack, tmp_path, monkeypatch,
                                                                                me):
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'printf "tok\\n" > "$1"'))
    assert run("secrets", "edit", "stack.custom_json.api.token")[0] == 0
    assert me.decrypt(values(stack)["stack.custom_json.api.token"].armored) == "tok"  # the editor's \n dropped
    assert '{token: !encrypted "-----BEGIN' in stack.read_text() and 'url: "https://x"}' in stack.read_text()
    before = stack.read_text()
    monkeypatch.setenv("EDITOR", editor(tmp_path, "true"))
    code, _, err = run("secrets", "edit", "stack.custom_json.api.token")
    assert code == 0 and "unchanged" in err and stack.read_text() == before


@pytest.mark.parametrize("script", ["exit 3", 'printf "" > "$1"', "kill -INT $PPID", "kill -TERM $PPID"])
def test_a_failed_or_interrupted_edit_leaves_the_file_and_no_scratch_file(run, stack, tmp_path, monkeypatch,
                                                                          script):
    before = stack.read_text()
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'printf changed > "$1"; ' + script))
    code, _, err = run("secrets", "edit", "apps.web.environment.DB_PASSWORD")
    assert code == (130 if "kill" in script else 2)
    assert stack.read_text() == before
    [(scratch, _, _)] = logged(tmp_path)
    assert not scratch.parent.exists()


def test_edit_in_a_cookbooks_attributes(run, stack, tmp_path, monkeypatch, me):
    attributes = tmp_path / "books/base/attributes/default.yml"
    attributes.parent.mkdir(parents=True)
    attributes.write_text(f"base:\n  key: {render_block(age.encrypt('old', [me.public]), 4)}\n")
    stack.write_text(stack.read_text().replace("  secrets:", "  cookbooks:\n    - path: books\n  secrets:"))
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'printf new > "$1"'))
    assert run("secrets", "edit", "cookbook:base/attributes/default.yml:base.key")[0] == 0
    assert me.decrypt(values(attributes)["base.key"].armored) == "new"
    assert run("secrets", "edit", f"{attributes.relative_to(tmp_path)}:base.key")[0] == 0
    code, _, err = run("secrets", "edit", "cookbook:nope/attributes/default.yml:a")
    assert code == 2 and "no cookbook 'nope'" in err


@pytest.mark.parametrize(("target", "message"), [
    ("apps.web.environment.GREETING", "stack.yml:13:17: apps.web.environment.GREETING: not an !encrypted value"),
    ("apps.api.environment.X", "no key 'api' under apps"),
])
def test_edit_refuses_a_path_that_is_missing_or_not_encrypted(run, stack, monkeypatch, target, message):
    before = stack.read_text()
    monkeypatch.setenv("EDITOR", "false")
    code, _, err = run("secrets", "edit", target)
    assert code == 2 and message in err and stack.read_text() == before


def test_edit_refuses_without_the_identity_or_with_another(run, stack, monkeypatch, other, tmp_path):
    before = stack.read_text()
    monkeypatch.setenv("EDITOR", "false")
    monkeypatch.delenv(age.KEY_ENV)
    code, _, err = run("secrets", "edit", "apps.web.environment.DB_PASSWORD")
    assert code == 2 and err.startswith("stack.yml:14:20: ") and "no age identity" in err
    assert str(tmp_path / "home/.config/runner/age.key") in err
    monkeypatch.setenv(age.KEY_ENV, other.secret)
    code, _, err = run("secrets", "edit", "apps.web.environment.DB_PASSWORD")
    assert code == 2 and "cannot decrypt it" in err and "tried: RUNNER_AGE_KEY" in err
    assert stack.read_text() == before


# -- rekey and check ------------------------------------------------------------


def test_rekey_to_a_new_recipient_list(run, stack, tmp_path, me, other):
    (tmp_path / "more.yml").write_text(f"custom_json:\n  x: {render_block(age.encrypt(PLAINTEXT, [me.public]), 4)}\n")
    text = stack.read_text().replace("# shop\n", "# shop\ninclude: [more.yml]\n")
    stack.write_text(text.replace(f"- {me.public}", f"- {other.public}"))  # me out, other in
    before = stack.read_text()
    code, out, _ = run("secrets", "rekey")
    assert code == 0 and out == "stack.yml: 2 values re-encrypted\nmore.yml: 1 value re-encrypted\n"
    for path in (stack, tmp_path / "more.yml"):
        for value in values(path).values():
            assert other.decrypt(value.armored) == PLAINTEXT
            with pytest.raises(age.DecryptionFailed):
                me.decrypt(value.armored)
    assert stat.S_IMODE(stack.stat().st_mode) == 0o640
    assert stack.read_text().splitlines()[:8] == before.splitlines()[:8]

    code, _, err = run("secrets", "rekey")  # me no longer decrypts anything: nothing is written
    assert code == 2 and "more.yml:2:6: custom_json.x: cannot decrypt it" in err
    assert other.decrypt(values(stack)["apps.web.environment.DB_PASSWORD"].armored) == PLAINTEXT


def test_check_reports_a_value_encrypted_for_someone_else_with_its_line(run, stack, other, me):
    assert run("secrets", "check")[1] == "stack.yml: 2 of 2 values decrypt\n"
    text = stack.read_text()
    old = values(stack)["stack.custom_json.api.token"]
    stack.write_text(text[:old.start] + render_flow(age.encrypt(PLAINTEXT, [other.public])) + text[old.end:])
    code, out, err = run("secrets", "check")
    assert code == 2
    assert out.splitlines()[0].startswith("stack.yml:8:18: stack.custom_json.api.token: cannot decrypt it")
    assert "tried: RUNNER_AGE_KEY" in out and "stack.yml: 1 of 2 values decrypt" in out
    assert "1 of 2 encrypted values cannot be decrypted" in err


def test_check_with_no_values_and_a_corrupt_value(run, tmp_path, monkeypatch, me):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(age.KEY_ENV, me.secret)
    (tmp_path / "stack.yml").write_text("stack: {name: x}\n")
    code, out, _ = run("secrets", "check")
    assert code == 0 and "no !encrypted values" in out
    (tmp_path / "stack.yml").write_text("stack: {name: x, custom_json: {a: !encrypted 'garbage'}}\n")
    code, out, _ = run("secrets", "check")
    assert code == 2 and "stack.yml:1:35: stack.custom_json.a: not an armored age value" in out


def test_encrypt_on_a_terminal_prompts_twice_without_echo(run, stack, monkeypatch, me):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([PLAINTEXT, PLAINTEXT, PLAINTEXT, "typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    code, out, _ = run("secrets", "encrypt", stdin=Terminal())
    assert code == 0 and me.decrypt(parse(f"x: {out}", "p").values[0].armored) == PLAINTEXT
    code, _, err = run("secrets", "encrypt", stdin=Terminal())
    assert code == 2 and "the two entries differ" in err


def test_edit_an_included_file_from_another_directory(run, stack, tmp_path, monkeypatch, me):
    (tmp_path / "more.yml").write_text(f"custom_json:\n  x: {render_block(age.encrypt('old', [me.public]), 4)}\n")
    stack.write_text("include: [more.yml]\n" + stack.read_text())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'printf new > "$1"'))
    code, _, err = run("-f", "../stack.yml", "secrets", "edit", "more.yml:custom_json.x")
    assert code == 0 and "../more.yml:2:6: custom_json.x: re-encrypted" in err
    assert me.decrypt(values(tmp_path / "more.yml")["custom_json.x"].armored) == "new"
    assert run("-f", "../stack.yml", "secrets", "check")[1].endswith("../more.yml: 1 of 1 value decrypt\n")
