import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { addressPatternsOf, networkOf } from '../../server/net/network.js';
import { parseUserAgent } from '../../server/risk/user-agent.js';

describe('parseUserAgent', () => {
  const cases: Array<[string, string, string]> = [
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome',
      'Windows',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86',
      'Edge',
      'Windows',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/116.0.0.0',
      'Opera',
      'Windows',
    ],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox', 'Windows'],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15',
      'Safari',
      'macOS',
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome',
      'macOS',
    ],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox', 'macOS'],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1',
      'Safari',
      'iOS',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
      'Chrome',
      'iOS',
    ],
    [
      'Mozilla/5.0 (iPad; CPU OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15',
      'Firefox',
      'iOS',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) EdgiOS/131.2903.87 Version/18.0 Mobile/15E148 Safari/604.1',
      'Edge',
      'iOS',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
      'Safari',
      'iOS',
    ],
    [
      'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
      'Chrome',
      'Android',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36',
      'Samsung Internet',
      'Android',
    ],
    [
      'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0',
      'Edge',
      'Android',
    ],
    ['Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0', 'Firefox', 'Android'],
    [
      'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0',
      'Opera',
      'Android',
    ],
    [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome',
      'Linux',
    ],
    ['Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox', 'Linux'],
    [
      'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome',
      'ChromeOS',
    ],
    ['curl/8.5.0', 'Other', 'Other'],
    ['', 'Other', 'Other'],
  ];
  it.each(cases)('parses %s', (userAgent, browser, os) => {
    expect(parseUserAgent(userAgent)).toEqual({ browser, os });
  });

  it('treats a missing header as Other on Other', () => {
    expect(parseUserAgent(null)).toEqual({ browser: 'Other', os: 'Other' });
  });
});

describe('networkOf', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0/24'],
    ['::ffff:203.0.113.77', '203.0.113.0/24'],
    ['2001:db8:1:2::7', '2001:db8:1::/48'],
    ['2001:0DB8:0001:ffff:0:0:0:1', '2001:db8:1::/48'],
    ['2001:db8::1', '2001:db8:0::/48'],
    ['::1', '0:0:0::/48'],
    ['[2001:db8:1::1]', '2001:db8:1::/48'],
    ['fe80::1%eth0', 'fe80:0:0::/48'],
  ])('puts %s in %s', (address, network) => {
    expect(networkOf(address)).toBe(network);
  });

  it.each([null, '', 'unknown', '999.1.1.1', 'a.b.c.d', '1.2.3'])('knows no network for %j', (address) => {
    expect(networkOf(address)).toBeNull();
  });

  it('gives database prefilters that every address of the network matches', () => {
    expect(addressPatternsOf('203.0.113.0/24')).toEqual(['203.0.113.%', '::ffff:203.0.113.%']);
    expect(addressPatternsOf('2001:db8:1::/48')).toEqual(['2001:%']);
    expect(addressPatternsOf('db8:1:2::/48')).toEqual(['db8:%', '0db8:%']);
    expect(addressPatternsOf('0:0:0::/48')).toEqual([]);
  });
});

describe('risk configuration', () => {
  it('defaults to step-up for a browser change, alone or with a network change, and to recording everything else', () => {
    expect(loadConfig({}).risk).toEqual({
      uaChange: 'step-up',
      networkChange: 'record',
      uaAndNetworkChange: 'step-up',
      signInNewNetwork: 'record',
      signInFailures: 'record',
      failureWindow: 900,
      accountFailures: 5,
      networkFailures: 20,
    });
  });

  it('fails loudly on an unknown policy, naming the variable', () => {
    expect(() => loadConfig({ RISK_POLICY_UA_CHANGE: 'refuse' })).toThrow(
      /RISK_POLICY_UA_CHANGE="refuse": expected record, step-up or revoke/,
    );
    expect(() => loadConfig({ RISK_POLICY_SIGNIN_FAILURES: 'revoke' })).toThrow(
      /RISK_POLICY_SIGNIN_FAILURES="revoke": expected record, step-up or refuse/,
    );
    expect(() => loadConfig({ RISK_SIGNIN_FAILURE_WINDOW: '5' })).toThrow(ConfigError);
  });
});
