"""The command line refuses what the API refuses, with a message and exit status 2."""

from __future__ import annotations

import pytest

from qa.cli import main


@pytest.mark.parametrize("argv", [["ask", "   "], ["ask", "x" * 1001], ["ask", "ok?", "--top-k", "0"],
                                  ["search", "trade", "-k", "0"], ["search", "trade", "-k", "500"],
                                  ["search", "trade", "-k", "five"], ["search", ""]])
def test_bad_arguments_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "invalid" in capsys.readouterr().err
