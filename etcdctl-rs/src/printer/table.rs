//! ASCII tables as etcdctl 3.4 draws them with olekukonko/tablewriter (2017):
//! centred headers, right-aligned cells, cells wider than 30 columns word-wrapped.

/// Cells wider than this are wrapped (tablewriter's `MAX_ROW_WIDTH`).
const MAX_CELL_WIDTH: usize = 30;
/// Cost added for a wrapped line that still overflows (tablewriter's `defaultPenalty`).
const OVERFLOW_PENALTY: usize = 100_000;

/// Renders `header` and `rows` like `tablewriter` with `SetAlignment(ALIGN_RIGHT)`.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    // Column widths grow as cells are added, and each cell is wrapped at the width known
    // when it is added, exactly as tablewriter's Append does.
    let mut widths: Vec<usize> = header.iter().map(|h| width(h).min(MAX_CELL_WIDTH)).collect();
    let mut wrapped_rows: Vec<Vec<Vec<String>>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(row.len());
        for (col, cell) in row.iter().enumerate() {
            if col >= widths.len() {
                widths.push(0);
            }
            let w = width(cell).min(MAX_CELL_WIDTH);
            if widths[col] < w {
                widths[col] = w;
            }
            let lines = wrap(cell, widths[col]);
            let longest = lines.iter().map(|l| width(l)).max().unwrap_or(0);
            widths[col] = widths[col].max(longest);
            cells.push(lines);
        }
        wrapped_rows.push(cells);
    }

    let border = border_line(&widths);
    let mut out = border.clone();
    out.push('|');
    for (col, w) in widths.iter().enumerate() {
        let h = header.get(col).copied().unwrap_or("");
        out.push_str(&format!(" {} |", center(h, *w)));
    }
    out.push('\n');
    out.push_str(&border);
    for cells in &wrapped_rows {
        let height = cells.iter().map(Vec::len).max().unwrap_or(0);
        for line in 0..height {
            out.push('|');
            for (col, w) in widths.iter().enumerate() {
                let text = cells.get(col).and_then(|c| c.get(line)).map_or("", String::as_str);
                out.push_str(&format!(" {} |", pad_left(text, *w)));
            }
            out.push('\n');
        }
    }
    out.push_str(&border);
    out
}

fn border_line(widths: &[usize]) -> String {
    let mut line = String::from("+");
    for w in widths {
        line.push_str(&"-".repeat(w + 2));
        line.push('+');
    }
    line.push('\n');
    line
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn center(s: &str, w: usize) -> String {
    let gap = w.saturating_sub(width(s));
    let left = gap / 2;
    format!("{}{s}{}", " ".repeat(left), " ".repeat(gap - left))
}

fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

/// tablewriter's `WrapString`: split on single spaces, then break lines to minimise
/// raggedness (not greedily), never splitting a word.
fn wrap(s: &str, limit: usize) -> Vec<String> {
    let words: Vec<&str> = s.split(['\n', ' ']).collect();
    let limit = words.iter().map(|w| width(w)).fold(limit, usize::max);
    let n = words.len();
    // len[i][j]: width of words i..=j joined by single spaces.
    let mut len = vec![vec![0usize; n]; n];
    for i in 0..n {
        len[i][i] = width(words[i]);
        for j in i + 1..n {
            len[i][j] = len[i][j - 1] + 1 + width(words[j]);
        }
    }
    let mut cost = vec![usize::MAX; n];
    let mut next_break = vec![n; n];
    for i in (0..n).rev() {
        if len[i][n - 1] <= limit {
            cost[i] = 0;
            next_break[i] = n;
            continue;
        }
        for j in i + 1..n {
            let line = len[i][j - 1];
            let d = limit.abs_diff(line);
            let mut c = (d * d).saturating_add(cost[j]);
            if line > limit {
                c = c.saturating_add(OVERFLOW_PENALTY);
            }
            if c < cost[i] {
                cost[i] = c;
                next_break[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..next_break[i]].join(" "));
        i = next_break[i];
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_list_table() {
        let header = ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"];
        let row =
            ["2e1259d415f2a040", "started", "default", "http://127.0.0.1:23800", "http://127.0.0.1:23790", "false"];
        let rows = vec![row.iter().map(|s| s.to_string()).collect()];
        let expected = "\
+------------------+---------+---------+------------------------+------------------------+------------+
|        ID        | STATUS  |  NAME   |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
+------------------+---------+---------+------------------------+------------------------+------------+
| 2e1259d415f2a040 | started | default | http://127.0.0.1:23800 | http://127.0.0.1:23790 |      false |
+------------------+---------+---------+------------------------+------------------------+------------+
";
        assert_eq!(render(&header, &rows), expected);
    }

    #[test]
    fn long_cells_wrap_at_thirty_columns() {
        let rows = vec![vec!["127.0.0.1:23790".to_string(), "memberID:3319814642761637952 alarm:NOSPACE ".to_string()]];
        let expected = "\
+-----------------+--------------------------------+
|    ENDPOINT     |             ERRORS             |
+-----------------+--------------------------------+
| 127.0.0.1:23790 |   memberID:3319814642761637952 |
|                 |                 alarm:NOSPACE  |
+-----------------+--------------------------------+
";
        assert_eq!(render(&["ENDPOINT", "ERRORS"], &rows), expected);
    }

    #[test]
    fn empty_table_has_header_only() {
        let expected = "\
+----------+------+
| ENDPOINT | HASH |
+----------+------+
+----------+------+
";
        assert_eq!(render(&["ENDPOINT", "HASH"], &[]), expected);
    }
}
