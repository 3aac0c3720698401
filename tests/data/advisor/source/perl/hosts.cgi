#!/usr/bin/perl -T
# hosts.cgi - list proxy clients and their traffic (Squid access_log in MySQL)
use strict;
use warnings;
use CGI;
use DBI;

use constant TABLE_LOG   => 'access_log';
use constant TABLE_HOSTS => 'proxy_hosts';

my $cgi = CGI->new;
my $dbh = DBI->connect('DBI:mysql:database=squid;mysql_read_default_group=client',
    undef, undef, { RaiseError => 1, AutoCommit => 1 });

my $host = $cgi->param('host') || '';
my $day  = $cgi->param('day');

print $cgi->header('text/html');

# One row per client for the chosen day
my $sth = $dbh->prepare("SELECT client_ip, COUNT(*) AS requests, SUM(bytes) AS bytes
                           FROM " . TABLE_LOG . "
                          WHERE date_day = ?
                          GROUP BY client_ip
                          ORDER BY bytes DESC");
$sth->execute($day);

my $detail = qq{SELECT date_time, url, http_status FROM @{[ TABLE_LOG ]} WHERE client_ip = ?};
$detail .= " AND date_day = ?" if $day;
$detail .= " ORDER BY date_time DESC LIMIT 100";
my $rows = $dbh->selectall_arrayref($detail, undef, $host, $day);

my $quoted = $dbh->quote($host);
$dbh->do(<<"SQL");
UPDATE ${\ TABLE_HOSTS} SET last_seen = NOW() WHERE name = $quoted
SQL

$dbh->do(<<SQL, undef, $host);
INSERT INTO proxy_hosts (name, first_seen) VALUES (?, NOW())
    ON DUPLICATE KEY UPDATE last_seen = NOW()
SQL

my $count = $dbh->selectrow_array(qq(SELECT COUNT(*) FROM ${\ 'proxy_hosts'} WHERE blocked = 1));
my $mail = "proxy-admin\@example.org";

if ($url =~ m{^https?://(select|update)/}i) {
    print "Matched\n";
}

$dbh->disconnect;

__END__

=head1 NOTES

SELECT * FROM documentation_only WHERE this_is = 'not code';
