"""The command line refuses what the API refuses, with a message and exit status 2, and
reports what `qa ingest` skipped."""

from __future__ import annotations

import pytest

from qa.cli import main
from tests.conftest import ROOT


@pytest.mark.parametrize("argv", [["ask", "   "], ["ask", "x" * 1001], ["ask", "ok?", "--top-k", "0"],
                                  ["search", "trade", "-k", "0"], ["search", "trade", "-k", "500"],
                                  ["search", "trade", "-k", "five"], ["search", ""]])
def test_bad_arguments_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "invalid" in capsys.readouterr().err


def test_ingest_skips_a_file_of_another_name_of_a_stored_id_unless_replace_is_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_MODEL_CACHE_DIR", str(ROOT / "data" / "models"))
    (tmp_path / "a.md").write_text("# Harbour Report\n\nThe harbour reopened on Monday after the storm.\n")
    (tmp_path / "a.txt").write_text("Bridge Report\n\nThe bridge closed on Tuesday for repairs.\n")
    assert main(["ingest", "--quiet", str(tmp_path / "a.md")]) == 0
    assert main(["ingest", "--quiet", str(tmp_path / "a.txt")]) == 0
    out, err = capsys.readouterr()
    assert "added 0, replaced 0" in out.splitlines()[-1] and "skipped 1" in out.splitlines()[-1]
    assert f"skipped {tmp_path / 'a.txt'}: same document id 'a' as {tmp_path / 'a.md'}" in err and "--replace" in err
    assert main(["ingest", "--quiet", "--replace", str(tmp_path / "a.txt")]) == 0
    assert "replaced 1" in capsys.readouterr().out
