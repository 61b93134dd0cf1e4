// Realistic messages: the benchmarks' corpus, also the unit tests' (src/tests/corpus.rs includes this file).

pub const BROWSER_GET: &[u8] = b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
Host: www.kittyhell.com\r\n\
User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n\
Accept-Encoding: gzip,deflate\r\n\
Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n\
Keep-Alive: 115\r\n\
Connection: keep-alive\r\n\
Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n\
Referer: http://www.kittyhell.com/\r\n\
Cache-Control: max-age=0\r\n\
DNT: 1\r\n\
\r\n";

pub const API_POST: &[u8] = b"POST /api/v2/orders?dry_run=false HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: weir-bench/1.0\r\n\
Accept: application/json\r\n\
Content-Type: application/json\r\n\
Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\r\n\
X-Request-Id: 6f1c2a9e-3b4d-4c5e-8f7a-9b0c1d2e3f40\r\n\
Content-Length: 67\r\n\
\r\n\
{\"item\":\"widget\",\"quantity\":3,\"price\":19.99,\"currency\":\"EUR\",\"x\":1}";

pub const MINIMAL_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Thu, 03 Dec 2026 18:00:00 GMT\r\n\
Server: nginx/1.22.1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 1024\r\n\
Last-Modified: Wed, 02 Dec 2026 10:00:00 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"5f3c-40a\"\r\n\
Cache-Control: public, max-age=3600\r\n\
Vary: Accept-Encoding\r\n\
Accept-Ranges: bytes\r\n\
\r\n";
