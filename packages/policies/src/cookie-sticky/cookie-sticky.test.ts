import { describe, expect, it } from '@jest/globals';
import { backends, policyRequest } from '../test-utils/index.ts';
import { byCookie, cookieSticky, readCookie } from './index.ts';

describe('readCookie', () => {
  it.each<[string | undefined, string | undefined]>([
    ['session=abc', 'abc'],
    ['a=1; session=abc; b=2', 'abc'],
    ['a=1;session=abc;b=2', 'abc'],
    ['  session  =  abc  ; b=2', 'abc'],
    ['session="abc"', 'abc'],
    ['session=" spaced "', ' spaced '],
    ['session="', '"'],
    ['session="abc', '"abc'],
    ['session=a=b==', 'a=b=='],
    ['session=1; session=2', '1'],
    [';; ;session=1;;', '1'],
    ['session=', ''],
    ['session=""', ''],
    ['xsession=1; session=2', '2'],
    ['xsession=1', undefined],
    ['session_x=1; sessionid=2; my-session=3', undefined],
    ['Session=1; SESSION=2', undefined],
    ['session', undefined],
    ['a=session; b="session=1"', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('reads %j as %j', (header, expected) => {
    expect(readCookie(header, 'session')).toBe(expected);
  });

  it('keeps percent-encoding and non-ASCII as sent', () => {
    expect(readCookie('session=a%20b', 'session')).toBe('a%20b');
    expect(readCookie('session=é🎉', 'session')).toBe('é🎉');
  });
});

describe('byCookie', () => {
  const list = backends(3);

  it('uses the cookie value as the key', () => {
    expect(byCookie('session').route(policyRequest({ headers: { cookie: 'theme=dark; session=s-1' } }), list)).toEqual({ key: 's-1', candidates: list });
  });

  it('gives no key without the cookie, with an empty or empty quoted one, or with only a similar name', () => {
    for (const cookie of ['theme=dark', 'session=', 'session=""', 'xsession=1', 'sessions=1']) {
      expect(byCookie('session').route(policyRequest({ headers: { cookie } }), list).key).toBeUndefined();
    }
    expect(byCookie('session').route(policyRequest(), list).key).toBeUndefined();
  });

  it('is named after the cookie', () => {
    expect(byCookie('sid').name).toBe('cookie:sid');
    expect(cookieSticky('sid').name).toBe('cookie-sticky:sid');
  });
});

describe('cookieSticky', () => {
  it('sends one session to one backend (quoted or not) and spreads sessions over all backends', () => {
    const list = backends(3);
    const instance = cookieSticky('sid').create(list);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const first = instance.pick(policyRequest({ headers: { cookie: `sid=s${i}` } }))!;
      expect(instance.pick(policyRequest({ headers: { cookie: `a=1; sid="s${i}"; b=2` } }))).toBe(first);
      seen.add(first.url);
    }
    expect(seen.size).toBe(3);
  });
});
