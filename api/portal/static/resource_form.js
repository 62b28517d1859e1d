// "添加一行": copy the last row of a table with its inputs emptied and its index moved on.
document.querySelectorAll("button.add-row").forEach(function (button) {
  button.addEventListener("click", function () {
    var body = document.getElementById(button.dataset.table).tBodies[0];
    var last = body.rows[body.rows.length - 1];
    var next = body.rows.length;
    var row = last.cloneNode(true);
    var pattern = new RegExp("^" + button.dataset.prefix + "\\[\\d+\\]");
    row.className = "";
    row.dataset.row = next;
    row.cells[0].textContent = next + 1;
    row.querySelectorAll(".field-error").forEach(function (p) { p.remove(); });
    row.querySelectorAll("input, select").forEach(function (field) {
      field.name = field.name.replace(pattern, button.dataset.prefix + "[" + next + "]");
      if (field.id) { field.id = field.name; }
      field.removeAttribute("aria-invalid");
      if (field.tagName === "SELECT") { field.selectedIndex = 0; } else { field.value = ""; }
    });
    body.appendChild(row);
    var first = row.querySelector("input");
    if (first) { first.focus(); }
  });
});
