<?xml version="1.0" encoding="UTF-8"?>
<!--
  feedsvc: how a browser shows an RSS 2.0 or Atom 1.0 feed of this service.

  Each feed names this file in an xml-stylesheet instruction. Feed readers
  ignore it; a browser that gets the feed as an XML document (the service
  sends it as application/xml to browsers) shows the page made here.

  Safety: every value from a feed goes through xsl:value-of or an attribute
  value template, and both escape it. Nothing here uses disable-output-escaping
  or script (the page's Content-Security-Policy allows neither). The items'
  HTML content is not shown: the excerpt, which is plain text, stands for it.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:media="http://search.yahoo.com/mrss/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:content="http://purl.org/rss/1.0/modules/content/"
    xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
    exclude-result-prefixes="atom media dc content itunes">

  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <!-- RSS 2.0 -->
  <xsl:template match="/rss">
    <xsl:call-template name="page">
      <xsl:with-param name="format" select="'RSS'"/>
      <xsl:with-param name="language" select="channel/language"/>
      <xsl:with-param name="title" select="channel/title"/>
      <xsl:with-param name="description" select="channel/description"/>
      <xsl:with-param name="self" select="channel/atom:link[@rel='self']/@href"/>
      <xsl:with-param name="home" select="channel/link"/>
      <xsl:with-param name="logo" select="(channel/image/url | channel/itunes:image/@href)[1]"/>
      <xsl:with-param name="items" select="channel/item"/>
    </xsl:call-template>
  </xsl:template>

  <!-- Atom 1.0 -->
  <xsl:template match="/atom:feed">
    <xsl:call-template name="page">
      <xsl:with-param name="format" select="'Atom'"/>
      <xsl:with-param name="language" select="@xml:lang"/>
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="description" select="atom:subtitle"/>
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="home" select="atom:link[@rel='alternate']/@href"/>
      <xsl:with-param name="logo" select="atom:logo"/>
      <xsl:with-param name="items" select="atom:entry"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="page">
    <xsl:param name="format"/>
    <xsl:param name="language"/>
    <xsl:param name="title"/>
    <xsl:param name="description"/>
    <xsl:param name="self"/>
    <xsl:param name="home"/>
    <xsl:param name="logo"/>
    <xsl:param name="items"/>
    <html lang="{$language}">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="color-scheme" content="light dark"/>
        <meta name="referrer" content="no-referrer"/>
        <title><xsl:value-of select="$title"/> (<xsl:value-of select="$format"/> feed)</title>
        <style>
          :root { color-scheme: light dark; --fg: #1d1d1f; --muted: #5f6368; --bg: #fbfbfa; --card: #fff;
                  --line: #e3e3e0; --accent: #b3470b; --hint: #fff6e5; --hint-line: #f0c77a; }
          @media (prefers-color-scheme: dark) {
            :root { --fg: #ececec; --muted: #a4a7ab; --bg: #151617; --card: #1e1f21; --line: #333538;
                    --accent: #ff9a52; --hint: #2b2417; --hint-line: #7a5a1f; }
          }
          * { box-sizing: border-box; }
          body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.5;
                 font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
          .wrap { max-width: 54rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
          a { color: var(--accent); }
          header.feed { display: flex; gap: 1rem; align-items: flex-start; }
          header.feed img { width: 4rem; height: 4rem; object-fit: contain; border-radius: .5rem;
                            background: var(--card); border: 1px solid var(--line); }
          .kind { margin: 0; font-size: .8rem; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); }
          h1 { margin: .1rem 0 .3rem; font-size: 1.9rem; line-height: 1.2; }
          .description { margin: 0; color: var(--muted); }
          .hint { margin: 1.5rem 0 2rem; padding: 1rem 1.2rem; background: var(--hint);
                  border: 1px solid var(--hint-line); border-radius: .6rem; }
          .hint h2 { margin: 0 0 .3rem; font-size: 1.05rem; }
          .hint p { margin: .3rem 0; }
          .hint code { display: block; margin: .5rem 0; padding: .5rem .7rem; overflow-wrap: anywhere;
                       font: .95rem/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
                       background: var(--card); border: 1px solid var(--line); border-radius: .4rem;
                       user-select: all; -webkit-user-select: all; }
          h2.latest { font-size: 1.2rem; margin: 0 0 .8rem; }
          ol.items { list-style: none; margin: 0; padding: 0; }
          .item { display: grid; grid-template-columns: 9rem 1fr; gap: 1rem; padding: 1rem 0;
                  border-top: 1px solid var(--line); }
          .item.no-image { grid-template-columns: 1fr; }
          .item img { width: 9rem; height: 6rem; object-fit: cover; border-radius: .4rem; background: var(--line); }
          .item h3 { margin: 0 0 .2rem; font-size: 1.1rem; line-height: 1.3; }
          .item h3 a { color: var(--fg); text-decoration: none; }
          .item h3 a:hover { text-decoration: underline; }
          .meta { margin: 0 0 .3rem; font-size: .85rem; color: var(--muted); }
          .excerpt { margin: 0 0 .4rem; display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical;
                     overflow: hidden; }
          ul.topics { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem; }
          ul.topics li { font-size: .75rem; padding: .05rem .5rem; border: 1px solid var(--line); border-radius: 1rem;
                         color: var(--muted); }
          footer { margin-top: 2rem; font-size: .85rem; color: var(--muted); }
          /* Chromium lays a notice of XSLT's deprecation over the top of the page: while it shows,
             the feed's title starts below it. */
          body:has(&gt; xslt-warning-banner:popover-open) .wrap { padding-top: 7.5rem; }
          @media (max-width: 36rem) {
            .item { grid-template-columns: 1fr; }
            .item img { width: 100%; height: auto; aspect-ratio: 16 / 9; }
            h1 { font-size: 1.5rem; }
            body:has(&gt; xslt-warning-banner:popover-open) .wrap { padding-top: 14rem; }
          }
        </style>
      </head>
      <body>
        <div class="wrap">
          <header class="feed">
            <xsl:if test="$logo and (starts-with($logo, 'https://') or starts-with($logo, 'http://'))">
              <img src="{$logo}" alt=""/>
            </xsl:if>
            <div>
              <p class="kind"><xsl:value-of select="$format"/> feed</p>
              <h1 id="feed-title"><xsl:value-of select="$title"/></h1>
              <p class="description" id="feed-description"><xsl:value-of select="$description"/></p>
            </div>
          </header>

          <aside class="hint" id="subscribe">
            <h2>This is a web feed</h2>
            <p>Feed readers check it and show you its new articles. To subscribe, copy this URL into your
              feed reader (Feedly, NetNewsWire, Inoreader, Miniflux, Thunderbird…):</p>
            <code id="feed-url"><xsl:value-of select="$self"/></code>
            <p>
              <xsl:if test="starts-with($home, 'https://') or starts-with($home, 'http://')">
                <a id="feed-page" href="{$home}">See this feed on the website</a>
                <xsl:text> · </xsl:text>
              </xsl:if>
              <a href="https://aboutfeeds.com/">What is a feed?</a>
            </p>
          </aside>

          <main>
            <h2 class="latest">
              <xsl:choose>
                <xsl:when test="count($items) = 1">The latest item</xsl:when>
                <xsl:when test="$items">The latest <xsl:value-of select="count($items)"/> items</xsl:when>
                <xsl:otherwise>No items yet</xsl:otherwise>
              </xsl:choose>
            </h2>
            <ol class="items" id="items">
              <xsl:apply-templates select="$items"/>
            </ol>
          </main>

          <footer>
            <p>This page is the feed itself, shown by the browser with a style sheet; feed readers see only the
              feed.</p>
          </footer>
        </div>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <!-- Only when there is content:encoded is the description the plain-text excerpt (else it is HTML). -->
    <xsl:variable name="excerpt">
      <xsl:if test="content:encoded">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="description"/>
        </xsl:call-template>
      </xsl:if>
    </xsl:variable>
    <xsl:variable name="image">
      <xsl:choose>
        <xsl:when test="media:thumbnail/@url"><xsl:value-of select="media:thumbnail/@url"/></xsl:when>
        <xsl:when test="media:content[@medium='image']/@url">
          <xsl:value-of select="media:content[@medium='image']/@url"/>
        </xsl:when>
        <xsl:when test="enclosure[starts-with(@type, 'image/')]/@url">
          <xsl:value-of select="enclosure[starts-with(@type, 'image/')]/@url"/>
        </xsl:when>
        <xsl:otherwise><xsl:value-of select="itunes:image/@href"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:call-template name="item">
      <xsl:with-param name="title" select="title"/>
      <xsl:with-param name="link" select="link"/>
      <xsl:with-param name="image" select="$image"/>
      <xsl:with-param name="date">
        <!-- RFC 822: "Thu, 05 May 2022 15:09:00 +0000" -> "5 May 2022" -->
        <xsl:variable name="day" select="normalize-space(substring-after(pubDate, ','))"/>
        <xsl:value-of select="number(substring($day, 1, 2))"/>
        <xsl:value-of select="substring($day, 3, 9)"/>
      </xsl:with-param>
      <xsl:with-param name="provider" select="(dc:creator | source)[1]"/>
      <xsl:with-param name="topics" select="category"/>
      <xsl:with-param name="excerpt" select="$excerpt"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:variable name="image">
      <xsl:choose>
        <xsl:when test="media:thumbnail/@url"><xsl:value-of select="media:thumbnail/@url"/></xsl:when>
        <xsl:when test="media:content[@medium='image']/@url">
          <xsl:value-of select="media:content[@medium='image']/@url"/>
        </xsl:when>
        <xsl:otherwise>
          <xsl:value-of select="atom:link[@rel='enclosure'][starts-with(@type, 'image/')]/@href"/>
        </xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="published" select="(atom:published | atom:updated)[1]"/>
    <xsl:call-template name="item">
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="link" select="(atom:link[not(@rel) or @rel='alternate'])[1]/@href"/>
      <xsl:with-param name="image" select="$image"/>
      <xsl:with-param name="date">
        <!-- RFC 3339: "2022-05-12T15:09:00+00:00" -> "12 May 2022" -->
        <xsl:value-of select="number(substring($published, 9, 2))"/>
        <xsl:text> </xsl:text>
        <xsl:value-of
            select="substring('JanFebMarAprMayJunJulAugSepOctNovDec', 3 * number(substring($published, 6, 2)) - 2, 3)"/>
        <xsl:text> </xsl:text>
        <xsl:value-of select="substring($published, 1, 4)"/>
      </xsl:with-param>
      <xsl:with-param name="provider" select="atom:author/atom:name"/>
      <xsl:with-param name="topics" select="atom:category/@term"/>
      <!-- The summary is the excerpt: plain text written as HTML. -->
      <xsl:with-param name="excerpt">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="atom:summary"/>
        </xsl:call-template>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="item">
    <xsl:param name="title"/>
    <xsl:param name="link"/>
    <xsl:param name="image"/>
    <xsl:param name="date"/>
    <xsl:param name="provider"/>
    <xsl:param name="topics"/>
    <xsl:param name="excerpt"/>
    <xsl:variable name="linked" select="starts-with($link, 'https://') or starts-with($link, 'http://')"/>
    <xsl:variable name="pictured" select="starts-with($image, 'https://') or starts-with($image, 'http://')"/>
    <li>
      <article>
        <xsl:attribute name="class">
          <xsl:text>item</xsl:text>
          <xsl:if test="not($pictured)"> no-image</xsl:if>
        </xsl:attribute>
        <xsl:if test="$pictured">
          <img src="{$image}" alt="" loading="lazy"/>
        </xsl:if>
        <div>
          <h3>
            <xsl:choose>
              <xsl:when test="$linked"><a href="{$link}"><xsl:value-of select="$title"/></a></xsl:when>
              <xsl:otherwise><xsl:value-of select="$title"/></xsl:otherwise>
            </xsl:choose>
          </h3>
          <p class="meta">
            <span class="date"><xsl:value-of select="$date"/></span>
            <xsl:if test="string($provider)">
              <xsl:text> · </xsl:text>
              <span class="provider"><xsl:value-of select="$provider"/></span>
            </xsl:if>
          </p>
          <xsl:if test="string($excerpt)">
            <p class="excerpt"><xsl:value-of select="$excerpt"/></p>
          </xsl:if>
          <xsl:if test="$topics">
            <ul class="topics">
              <xsl:for-each select="$topics">
                <li><xsl:value-of select="."/></li>
              </xsl:for-each>
            </ul>
          </xsl:if>
        </div>
      </article>
    </li>
  </xsl:template>

  <!-- The excerpt is plain text written as HTML: undo its three escapes (&lt; &gt; &amp;, the last last), and
       the result is shown as text, escaped again on output. Each escape costs a level of recursion, so text
       with very many of them is shown as written rather than risk the processor's depth limit. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:choose>
      <xsl:when test="string-length($text) - string-length(translate($text, '&amp;', '')) &gt; 200">
        <xsl:value-of select="$text"/>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="replace">
          <xsl:with-param name="text">
            <xsl:call-template name="replace">
              <xsl:with-param name="text">
                <xsl:call-template name="replace">
                  <xsl:with-param name="text" select="$text"/>
                  <xsl:with-param name="from" select="'&amp;lt;'"/>
                  <xsl:with-param name="to" select="'&lt;'"/>
                </xsl:call-template>
              </xsl:with-param>
              <xsl:with-param name="from" select="'&amp;gt;'"/>
              <xsl:with-param name="to" select="'&gt;'"/>
            </xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="from" select="'&amp;amp;'"/>
          <xsl:with-param name="to" select="'&amp;'"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
