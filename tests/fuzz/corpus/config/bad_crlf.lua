main = {
  name = "crlf",
  count = "x",
}
