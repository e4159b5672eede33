main = {}
main.name = "stmts"
main["count"] = 9
main.sub = { ["s"] = [[long
string]] }
other = { wait = "500ms" }
